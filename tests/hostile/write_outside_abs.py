# expect: refused
# kind: write_outside,error
# native: refused
with open("@OUTSIDE@/pwned.txt", "w") as handle:
    handle.write("pwned")
