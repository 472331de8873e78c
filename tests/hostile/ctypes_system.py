# expect: refused
# kind: forbidden
# native: refused
import ctypes

libc = ctypes.CDLL(None)
libc.system(b"touch @OUTSIDE@/pwned.txt; touch /tmp/babelvl-pwned-@TOKEN@")
