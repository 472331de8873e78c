# expect: refused
# kind: write_outside
# native: refused
open("/usr/pwned-@TOKEN@", "w").write("pwned")
