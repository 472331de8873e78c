"""Runs INSIDE the sandbox child: executes dataset plotting code and writes one PNG.

Usage (by :mod:`babelvl.pixmo.renderers.matplotlib_renderer` through the sandbox)::

    python _runner.py OUTPUT.png   < {"code": ..., "data": ..., "data_format": "auto"}

Follows the CoSyn / PixMo-Docs convention: the code defines ``generate_plot`` (or another
``generate_*`` function) taking the data (CSV loaded as a pandas DataFrame, JSON as Python objects)
and returning a PIL image. Code that does not follow it still renders: the image is, in order, what
the entry function returned, else an image file the code saved in the work folder, else the current
matplotlib figure. Nothing is written when there is nothing to save; the renderer reports that as
``no_output``. Only the standard library is imported at module level; this file is run by path, not
imported from the babelvl package, so the child never imports babelvl.
"""

from __future__ import annotations

import inspect
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
ENTRY_NAMES = ("generate_plot", "generate_chart", "generate_table", "generate_figure",
               "generate_image", "generate_diagram", "create_plot", "create_chart", "plot")
# Not "__main__": the original pipeline exec'd the code as a module, so example-usage blocks under
# ``if __name__ == "__main__":`` never ran; running them here would fail on missing files or viewers.
CODE_MODULE_NAME = "babelvl_dataset_code"


def main(argv: list[str]) -> int:
    output = Path(argv[1]).resolve()
    payload = json.loads(sys.stdin.read())
    # matplotlib is imported by the code itself (MPLBACKEND=Agg is set by the sandbox), not here
    # first: code that never draws then fails in milliseconds instead of after a 1 s import.
    started = time.time()
    namespace: dict[str, Any] = {"__name__": CODE_MODULE_NAME, "__builtins__": __builtins__}
    # running dataset code is the point; this process is the sandboxed child
    exec(compile(payload["code"], "<dataset code>", "exec"), namespace)  # noqa: S102
    entry = _entry_function(namespace)
    returned = None
    if entry is not None:
        if _required_arguments(entry) == 0:
            returned = entry()
        else:
            returned = entry(_load_data(payload.get("data"), payload.get("data_format", "auto")))
    png = _to_png(returned) or _saved_image(Path.cwd(), started, exclude=output) or _current_figure()
    if png is None:
        print("[babelvl runner] the code made no figure or image", file=sys.stderr)
        return 0
    output.write_bytes(png)
    return 0


def _entry_function(namespace: dict[str, Any]) -> Callable[..., Any] | None:
    """The function the dataset code defined to draw: a known name, else any ``generate_*``."""
    defined = {name: value for name, value in namespace.items()
               if inspect.isfunction(value) and value.__module__ == CODE_MODULE_NAME}
    for name in ENTRY_NAMES:
        if name in defined:
            return defined[name]
    generators = [value for name, value in defined.items() if name.startswith("generate_")]
    return generators[-1] if generators else None


def _required_arguments(function: Callable[..., Any]) -> int:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return 1
    return sum(1 for p in parameters
               if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


def _load_data(data: str | None, data_format: str) -> Any:
    """CSV as a pandas DataFrame (as the CoSyn pipeline did), JSON as Python objects."""
    if data is None:
        return None
    text = data.strip()
    if data_format == "json" or (data_format == "auto" and text[:1] in ("{", "[")):
        try:
            return json.loads(text)
        except ValueError:
            if data_format == "json":
                raise
    if data_format in ("csv", "auto"):
        try:
            import pandas
        except ImportError:
            return data
        return pandas.read_csv(io.StringIO(data))
    return data


def _to_png(value: Any) -> bytes | None:
    """PNG bytes of what the entry function returned: a PIL image, Figure, bytes, buffer or path."""
    if value is None:
        return None
    from PIL import Image

    if isinstance(value, Image.Image):
        return _pil_to_png(value)
    if hasattr(value, "savefig"):  # a matplotlib Figure
        buffer = io.BytesIO()
        value.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()
    if isinstance(value, io.BytesIO):
        value = value.getvalue()
    if isinstance(value, (bytes, bytearray)):
        with Image.open(io.BytesIO(bytes(value))) as image:
            return _pil_to_png(image)
    if isinstance(value, (str, os.PathLike)) and Path(value).is_file():
        with Image.open(value) as image:
            return _pil_to_png(image)
    if hasattr(value, "__array_interface__"):  # a numpy array of pixels
        return _pil_to_png(Image.fromarray(value))
    return None


def _pil_to_png(image: Any) -> bytes:
    if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
        image = image.convert("RGBA" if "A" in image.mode else "RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _saved_image(root: Path, since: float, *, exclude: Path) -> bytes | None:
    """The newest image file the code wrote anywhere under the work folder."""
    candidates = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            path = Path(folder) / name
            if path.suffix.lower() in IMAGE_SUFFIXES and path.resolve() != exclude:
                mtime = path.stat().st_mtime
                if mtime >= since - 1:
                    candidates.append((mtime, path))
    for _, path in sorted(candidates, reverse=True):
        png = _to_png(str(path))
        if png:
            return png
    return None


def _current_figure() -> bytes | None:
    if "matplotlib.pyplot" not in sys.modules:
        return None  # the code never used pyplot: there is no current figure
    import matplotlib.pyplot as plt

    if not plt.get_fignums():
        return None
    buffer = io.BytesIO()
    plt.gcf().savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
