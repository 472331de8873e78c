"""Re-render matplotlib dataset code (CoSyn charts and tables) to PNG inside the sandbox."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from babelvl.pixmo.renderers import (MAX_IMAGE_BYTES, RenderResult, image_problem,
                                     record_field)
from babelvl.pixmo.sandbox import run_sandboxed

RUNNER = Path(__file__).with_name("_runner.py")
OUTPUT_NAME = ".babelvl-render.png"
# Code importing one of these draws with another library (its own renderer, when one exists).
OTHER_LIBRARIES = {"plotly", "bokeh", "altair", "graphviz", "pygal", "vl_convert", "pyecharts"}
MATPLOTLIB_LIBRARIES = {"matplotlib", "seaborn", "pandas.plotting"}

_font_cache_lock = threading.Lock()
_font_cache_ready: Path | None = None


class MatplotlibRenderer:
    """Runs the code through ``_runner.py`` in :func:`~babelvl.pixmo.sandbox.run_sandboxed`."""

    name = "matplotlib"

    def can_render(self, record: Any) -> bool:
        code = record_field(record, "code")
        return code is not None and uses_matplotlib(code)

    def render(self, code: str, data: str | None, *, workdir: Path, timeout_s: float = 30,
               memory_mb: int = 1024, data_format: str = "auto") -> RenderResult:
        """Render in the sandbox; ``workdir`` holds the run's control files (removed afterwards).

        The image comes back through a pipe (never read from a path the code could have turned
        into a link) and is checked against :data:`~babelvl.pixmo.renderers.MAX_IMAGE_BYTES` and
        :data:`~babelvl.pixmo.renderers.MAX_IMAGE_PIXELS`.
        """
        Path(workdir).mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="mpl-", dir=workdir) as folder:
            seed = Path(folder) / "seed"
            _seed_font_cache(seed / ".mplconfig")
            payload = json.dumps({"code": code, "data": data, "data_format": data_format})
            result = run_sandboxed([str(RUNNER), OUTPUT_NAME], workdir=Path(folder),
                                   timeout_s=timeout_s, memory_mb=memory_mb,
                                   stdin=payload.encode("utf-8"), output=OUTPUT_NAME, seed=seed,
                                   max_output_bytes=MAX_IMAGE_BYTES)
        seconds = round(time.monotonic() - started, 3)
        if not result.ok:
            return RenderResult(False, None, result.reason, seconds)
        if not result.output:
            return RenderResult(False, None, "no_output: the code made no figure or image file",
                                seconds)
        problem = image_problem(result.output)
        if problem:
            return RenderResult(False, None, problem, seconds)
        return RenderResult(True, result.output, None, seconds)


def uses_matplotlib(code: str) -> bool:
    """True when the code imports matplotlib (or seaborn) and no other plotting library."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        imported = set(re.findall(r"^\s*(?:import|from)\s+([\w.]+)", code, flags=re.MULTILINE))
    else:
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module)
    roots = {name.split(".")[0] for name in imported}
    uses = bool(roots & {"matplotlib", "seaborn"}) or "pandas.plotting" in imported
    return uses and not roots & OTHER_LIBRARIES


def _seed_font_cache(mplconfig: Path) -> None:
    """Copy matplotlib's font list into the run's config folder.

    Without it every run rebuilds the list (about 0.3 s) and matplotlib tries to run ``fc-list``,
    which the sandbox refuses (and a refusal fails the run). The list is built once per machine by a trusted child process.
    """
    cache = _font_cache_dir()
    if cache is None:
        return
    mplconfig.mkdir(parents=True, exist_ok=True)
    for path in cache.glob("fontlist-*.json"):
        shutil.copy2(path, mplconfig / path.name)


def _font_cache_dir() -> Path | None:
    global _font_cache_ready
    with _font_cache_lock:
        if _font_cache_ready is not None:
            return _font_cache_ready
        root = Path(os.environ.get("BABELVL_CACHE", Path.home() / ".cache" / "babelvl")).expanduser()
        cache = root / "mplconfig"
        if not any(cache.glob("fontlist-*.json")):
            cache.mkdir(parents=True, exist_ok=True)
            env = {**os.environ, "MPLCONFIGDIR": str(cache), "MPLBACKEND": "Agg"}
            try:
                subprocess.run([sys.executable, "-I", "-B", "-c", "import matplotlib.font_manager"],
                               env=env, timeout=120, check=True, capture_output=True)
            except (OSError, subprocess.SubprocessError):
                return None
        if not any(cache.glob("fontlist-*.json")):
            return None
        _font_cache_ready = cache
        return cache
