# expect: refused
# kind: write_outside,error
# native: refused
import os

os.link("@OUTSIDE@/precious.txt", "linked.txt")
with open("linked.txt", "a") as handle:
    handle.write("appended")
