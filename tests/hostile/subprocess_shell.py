# expect: refused
# kind: subprocess
# native: refused
import subprocess

subprocess.run(["sh", "-c", "touch @OUTSIDE@/pwned.txt; sleep 100 &"], check=False)
