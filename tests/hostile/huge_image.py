# expect: refused
# kind: too_large
from PIL import Image


def generate_plot(data):
    return Image.new("L", (12000, 12000))
