# expect: refused
# kind: subprocess
# native: refused
# Floods the hook with allowed events from one thread while another asks for a shell.
import os
import threading

stop = False


def busy():
    while not stop:
        open("inside.txt", "w").close()


worker = threading.Thread(target=busy)
worker.start()
try:
    for _ in range(50):
        os.system("touch @OUTSIDE@/pwned.txt")
finally:
    stop = True
    worker.join()
