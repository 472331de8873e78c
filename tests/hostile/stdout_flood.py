# expect: refused
# timeout: 2
# kind: timeout,too_large,error
import sys

line = "flood " * 10000
while True:
    sys.stdout.write(line)
    sys.stderr.write(line)
