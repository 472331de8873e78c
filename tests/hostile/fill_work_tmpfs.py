# expect: refused
# kind: error,too_large
# native: refused
# The work folder is a private tmpfs with a size cap: filling it fails instead of eating host memory.
chunk = b"x" * (16 * 1024 * 1024)
for index in range(1000):
    with open(f"fill-{index}.bin", "wb") as handle:
        handle.write(chunk)
