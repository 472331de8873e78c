# expect: refused
# kind: too_large,no_output,error
# Writes a tiny PNG whose header claims 100000 x 100000 pixels as the renderer's output file.
import struct
import zlib


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


header = struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) \
    + chunk(b"IEND", b"")
open(".babelvl-render.png", "wb").write(png)
open("figure.png", "wb").write(png)
