# expect: refused
# timeout: 2
# kind: timeout
while True:
    pass
