# expect: contained
# A path object that answers differently on each call: the hook never calls it, open() calls it once.
import matplotlib.pyplot as plt

calls = []


class Sneaky:
    def __fspath__(self):
        calls.append(1)
        return "inside.txt" if len(calls) == 1 else "@OUTSIDE@/pwned.txt"

    def __repr__(self):
        calls.append(1)
        return "inside.txt"


open(Sneaky(), "w").write("x")
plt.plot([1, 2])
