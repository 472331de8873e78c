# expect: refused
# kind: network
# native: refused
import socket

connection = socket.create_connection(("127.0.0.1", @PORT@), timeout=2)
connection.sendall(b"pwned")
