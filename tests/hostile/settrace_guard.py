# expect: refused
# kind: forbidden
# native: refused
import os
import sys


def tracer(frame, event, arg):
    me = frame.f_locals.get("self")
    if me is not None and type(me).__name__ == "_Guard":
        me.roots = ("/",)
    return tracer


sys.setprofile(tracer)
os.system("touch @OUTSIDE@/pwned.txt")
