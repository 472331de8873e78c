# expect: refused
# kind: forbidden
# native: refused
# Re-enter "the host's" network namespace through PID 1 (which, in the sandbox, is its own init).
import ctypes
import os
import socket

libc = ctypes.CDLL(None, use_errno=True)
fd = os.open("/proc/1/ns/net", os.O_RDONLY)
print("setns", libc.setns(fd, 0x40000000), ctypes.get_errno())
socket.create_connection(("127.0.0.1", @PORT@), timeout=2).sendall(b"pwned")
