# expect: refused
# kind: write_outside
# native: refused
# Host memory through a tmpfs that is not size-capped (/dev, /dev/shm): both are read-only.
chunk = b"x" * (16 * 1024 * 1024)
for index in range(1000):
    with open(f"/dev/shm/fill-{index}", "wb") as handle:
        handle.write(chunk)
