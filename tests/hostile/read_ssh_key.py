# expect: refused
import os

from PIL import Image


def generate_plot(data):
    found = b""
    for path in ("@SECRET_FILE@", os.path.expanduser("~/.ssh/id_rsa"), "/root/.ssh/id_rsa",
                 "/root/.ssh/authorized_keys"):
        found += open(path, "rb").read()
    return Image.frombytes("L", (len(found), 1), found)
