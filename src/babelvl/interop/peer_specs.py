"""How the peer tools babelvl's interchange formats are checked against get installed (one definition).

Used by the interop tests and benchmark scripts through :func:`babelvl.testing.peers.peer_python`; the venv is
cached under ``~/.cache/babelvl/peers`` keyed by these lists, so changing one builds a fresh venv.
"""

from __future__ import annotations

#: lmms-eval from PyPI. ``decord`` is imported by its video utilities at task-registry time; ``filelock`` 4.x
#: breaks its ``datasets`` import (``No module named 'filelock._api'``); ``timm`` pulls a CUDA-only
#: torchvision that fails to import on the CPU torch, so it is removed (transformers then uses PIL processors).
LMMS_EVAL_REQUIREMENTS = ["lmms-eval==0.7.3", "decord"]
LMMS_EVAL_CONSTRAINTS = ["filelock==3.32.7"]
LMMS_EVAL_UNINSTALL = ["torchvision"]


def lmms_eval_python():
    """The Python of a venv with lmms-eval installed (built on first use: minutes)."""
    from babelvl.testing.peers import peer_python

    return peer_python("lmms-eval", LMMS_EVAL_REQUIREMENTS, constraints=LMMS_EVAL_CONSTRAINTS,
                       uninstall=LMMS_EVAL_UNINSTALL)
