# expect: refused
# kind: forbidden
# native: refused
import gc
import os

for thing in gc.get_objects():
    if type(thing).__name__ == "_Guard":
        thing.roots = ("/",)
os.system("touch @OUTSIDE@/pwned.txt")
