# expect: refused
# kind: network
# native: refused
# Would look for the hook's frame in the traceback of a refusal (the hook ends the process instead).
import os
import socket

try:
    socket.socket()
except Exception as exc:
    tb = exc.__traceback__
    while tb is not None:
        frame_self = tb.tb_frame.f_locals.get("self")
        if frame_self is not None and hasattr(frame_self, "roots"):
            frame_self.roots = ("/",)
        tb = tb.tb_next
os.system("touch @OUTSIDE@/pwned.txt")
