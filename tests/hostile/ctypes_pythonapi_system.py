# expect: refused
# kind: forbidden
# native: refused
# pythonapi is loaded when ctypes is imported; its handle resolves libc symbols too.
import ctypes

ctypes.pythonapi.system(b"touch @OUTSIDE@/pwned.txt")
