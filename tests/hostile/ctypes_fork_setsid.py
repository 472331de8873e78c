# expect: refused
# kind: forbidden
# native: refused
# A daemon that detaches itself and outlives the run.
import ctypes
import time

libc = ctypes.CDLL(None)
if libc.fork() == 0:
    libc.setsid()
    if libc.fork() == 0:
        while True:
            time.sleep(1)
libc._exit(0)
