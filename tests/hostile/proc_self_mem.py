# expect: refused
# kind: write_outside
# native: contained
# Writing its own memory through /proc/self/mem (a classic way to patch out an in-process guard).
with open("/proc/self/mem", "r+b") as handle:
    handle.seek(0x400000)
    handle.write(b"\x90")
