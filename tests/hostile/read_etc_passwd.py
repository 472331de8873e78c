# expect: refused
from PIL import Image


def generate_plot(data):
    text = open("/etc/passwd", "rb").read()
    return Image.frombytes("L", (len(text), 1), text)
