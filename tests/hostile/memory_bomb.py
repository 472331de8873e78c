# expect: refused
# kind: memory
chunks = []
while True:
    chunks.append(bytearray(256 * 1024 * 1024))
