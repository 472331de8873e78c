# expect: refused
# kind: forbidden,error
# native: refused
import ctypes

libc = ctypes.CDLL(None)
libc.kill(@VICTIM_PID@, 9)
libc.kill(-1, 9)
