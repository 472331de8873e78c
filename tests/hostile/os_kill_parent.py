# expect: refused
# kind: forbidden
# native: refused
import os
import signal

os.kill(@VICTIM_PID@, signal.SIGKILL)
os.kill(os.getppid(), signal.SIGKILL)
os.kill(-1, signal.SIGKILL)
