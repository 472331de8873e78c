# expect: refused
# kind: forbidden
# native: refused
# Attach to the sandbox's PID 1 (bwrap) to run code outside the filters.
import ctypes

libc = ctypes.CDLL(None, use_errno=True)
PTRACE_ATTACH = 16
print("ptrace", libc.ptrace(PTRACE_ATTACH, 1, None, None), ctypes.get_errno())
