# expect: refused
# timeout: 2
# kind: timeout
import signal
import time

for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU, signal.SIGALRM):
    signal.signal(number, signal.SIG_IGN)
while True:
    time.sleep(0.05)
