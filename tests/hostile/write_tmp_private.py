# expect: contained
# /tmp inside the sandbox is private: this file must never appear in the host's /tmp.
import matplotlib.pyplot as plt

open("/tmp/babelvl-pwned-@TOKEN@", "w").write("pwned")
plt.plot([1, 2, 3])
