# expect: refused
# kind: subprocess,forbidden
# native: refused
# Replacing sys.audit silences the events raised from Python code (subprocess); seccomp still ends it.
import subprocess
import sys

sys.audit = lambda *args: None
sys.addaudithook = lambda hook: None
subprocess.run(["sh", "-c", "touch @OUTSIDE@/pwned.txt"])
