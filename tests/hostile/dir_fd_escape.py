# expect: refused
# A path relative to a directory fd: the audit event does not carry dir_fd, so only the OS stops it.
import os

root = os.open("/", os.O_RDONLY)
fd = os.open("@OUTSIDE@/pwned.txt"[1:], os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=root)
os.write(fd, b"pwned")
