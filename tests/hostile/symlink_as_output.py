# expect: refused
# The renderer's output file turned into a link to a secret: the link must not be followed.
import os

os.symlink("@SECRET_FILE@", ".babelvl-render.png")
