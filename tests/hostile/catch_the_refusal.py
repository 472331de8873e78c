# expect: refused
# kind: subprocess
# native: refused
# Catches the refusal and draws a normal chart anyway: the run must still fail.
import os

import matplotlib.pyplot as plt

try:
    os.system("touch @OUTSIDE@/pwned.txt")
except Exception:
    pass
plt.plot([1, 2, 3])
