"""Real peer tools (lmms-eval, TRL, Label Studio, Argilla, LLaMA-Factory) in venvs of their own.

Compatibility claims are checked by the peer tool itself, installed from PyPI. Peers pin packages that clash
with ours, so each gets its own virtual environment. The environment sees our site-packages
(``--system-site-packages``) so the CPU torch already installed is reused and never replaced by a CUDA build:
every install goes through a constraints file pinning ``torch`` to the version we run.

One definition for every test and benchmark script that needs a peer: call :func:`peer_python`.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

import torch

#: Where peer venvs live; kept between runs on one machine so CI pays the install once per machine.
PEERS_HOME_ENV = "BABELVL_PEERS_HOME"


def peers_home() -> Path:
    return Path(os.environ.get(PEERS_HOME_ENV) or Path.home() / ".cache" / "babelvl" / "peers")


def _constraints(extra: list[str]) -> str:
    torch_version = torch.__version__.split("+")[0]
    return "\n".join([f"torch=={torch_version}", *extra]) + "\n"


def peer_python(name: str, requirements: list[str], *, constraints: list[str] | None = None,
                uninstall: list[str] | None = None, timeout: float = 1800) -> Path:
    """Return the Python executable of a venv holding ``requirements``; build it on first use.

    ``constraints`` adds pins (e.g. ``filelock==3.32.7`` for lmms-eval); ``uninstall`` removes packages a
    peer pulls in that cannot work here (e.g. a CUDA-only ``torchvision``). The venv's folder name includes a
    hash of all of these, so changing a requirement builds a new venv instead of reusing a stale one.
    Raises ``RuntimeError`` with pip's output when the install fails.
    """
    constraints_text = _constraints(list(constraints or []))
    key = hashlib.sha256(
        "\n".join([sys.version, *requirements, constraints_text, *(uninstall or [])]).encode()).hexdigest()[:12]
    root = peers_home() / f"{name}-{key}"
    python = root / "bin" / "python"
    done = root / ".babelvl-ready"
    if done.exists():
        return python
    root.parent.mkdir(parents=True, exist_ok=True)
    venv.EnvBuilder(system_site_packages=True, with_pip=True, clear=True).create(root)
    cfile = root / "constraints.txt"
    cfile.write_text(constraints_text)
    cmd = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-c", str(cfile),
           *requirements]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"installing peer {name} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    if uninstall:
        subprocess.run([str(python), "-m", "pip", "uninstall", "-y", "-q", *uninstall],
                       capture_output=True, text=True, timeout=timeout)
    done.write_text(" ".join(requirements) + "\n")
    return python
