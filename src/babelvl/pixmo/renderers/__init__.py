"""Renderers turn a record's (possibly translated) ``code`` and ``data`` back into an image.

Only :class:`~babelvl.pixmo.renderers.matplotlib_renderer.MatplotlibRenderer` ships. Extension
point: any object with the :class:`Renderer` shape (a ``name``, ``can_render(record)`` and
``render(code, data, *, workdir, timeout_s, memory_mb)``) can be added, e.g. HTML through chromium,
LaTeX, graphviz or Vega-Lite renderers, either

* in code: ``register_renderer(MyRenderer())``, or
* from another package, through the ``babelvl.renderers`` entry-point group, loaded on first use::

      [project.entry-points."babelvl.renderers"]
      html = "my_pkg.html_renderer:HtmlRenderer"   # a class (called with no arguments) or an instance

A renderer must run dataset code through :func:`babelvl.pixmo.sandbox.run_sandboxed` (or an equally
isolated tool) and report failures as a :class:`RenderResult` reason, never raise for bad code:
:func:`render_or_keep` then keeps the original image with that reason.
"""

from __future__ import annotations

import io
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Protocol, runtime_checkable

from babelvl.errors import InputError

ENTRY_POINT_GROUP = "babelvl.renderers"
MAX_IMAGE_BYTES = 32 * 1024 * 1024
"""A rendered image larger than this (bytes) is refused."""
MAX_IMAGE_PIXELS = 36_000_000
"""A rendered image with more pixels than this (6000 x 6000) is refused: real CoSyn figures are
well under 10 MP, and a decompression bomb must not reach the dataset or its readers."""


@dataclass(frozen=True)
class RenderResult:
    """PNG bytes when ``ok``; otherwise ``reason`` (``"<kind>: <text>"``, kinds as in the sandbox)."""

    ok: bool
    image_bytes: bytes | None
    reason: str | None
    seconds: float = 0.0


@runtime_checkable
class Renderer(Protocol):
    """What a renderer plug-in provides."""

    name: str

    def can_render(self, record: Any) -> bool:
        """True when this renderer understands the record's code (a quick, static check)."""
        ...

    def render(self, code: str, data: str | None, *, workdir: Path, timeout_s: float = 30,
               memory_mb: int = 1024) -> RenderResult:
        """Run ``code`` (with ``data``) in a sandbox under ``workdir`` and return the image."""
        ...


_REGISTRY: dict[str, Renderer] = {}
_LOADED = False


def register_renderer(renderer: Renderer, *, replace: bool = False) -> Renderer:
    """Add a renderer; a second one with the same name needs ``replace=True``."""
    if not isinstance(renderer, Renderer):
        raise TypeError(f"{renderer!r} lacks name, can_render() or render()")
    if renderer.name in _REGISTRY and not replace and _REGISTRY[renderer.name] is not renderer:
        raise ValueError(f"a renderer named {renderer.name!r} is already registered")
    _REGISTRY[renderer.name] = renderer
    return renderer


def get_renderer(name: str) -> Renderer:
    """The renderer registered under ``name``; InputError lists the known ones."""
    _load_builtins_and_plugins()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise InputError(f"unknown renderer {name!r} (known: {known})") from None


def available_renderers() -> list[str]:
    """Names of the registered renderers, in registration order."""
    _load_builtins_and_plugins()
    return list(_REGISTRY)


def renderer_for(record: Any) -> Renderer | None:
    """The first registered renderer that can render ``record`` (a SourceRecord or a mapping)."""
    _load_builtins_and_plugins()
    for renderer in _REGISTRY.values():
        try:
            if renderer.can_render(record):
                return renderer
        except Exception as exc:  # noqa: BLE001 - one broken plug-in must not stop the others
            warnings.warn(f"renderer {renderer.name!r} failed in can_render: {exc}", stacklevel=2)
    return None


def record_field(record: Any, name: str) -> str | None:
    """``code`` or ``data`` of a record: a SourceRecord (``record.fields``) or a plain mapping."""
    fields = record if isinstance(record, Mapping) else getattr(record, "fields", None)
    if not isinstance(fields, Mapping):
        return None
    value = fields.get(name)
    return value if isinstance(value, str) else None


def render_or_keep(original: bytes, code: str, data: str | None, renderer: Renderer, *,
                   workdir: Path | None = None, timeout_s: float = 30,
                   memory_mb: int = 1024) -> tuple[bytes, str | None]:
    """The re-rendered PNG and None, or ``original`` and the reason rendering failed.

    The new image is also checked to decode, so a corrupt file never replaces a good original.
    """
    with tempfile.TemporaryDirectory(prefix="babelvl-render-") as scratch:
        result = renderer.render(code, data, workdir=Path(workdir or scratch), timeout_s=timeout_s,
                                 memory_mb=memory_mb)
    if not result.ok or not result.image_bytes:
        return original, result.reason or "no_output: the renderer returned no image"
    problem = image_problem(result.image_bytes)
    if problem:
        return original, problem
    return result.image_bytes, None


def image_problem(image_bytes: bytes, *, max_bytes: int | None = None,
                  max_pixels: int | None = None) -> str | None:
    """None for an acceptable image; else the reason (``too_large: ...`` or ``no_output: ...``).

    The size is read from the header before any pixel is decoded, so a decompression bomb is
    refused without being expanded. Limits default to the module's MAX_IMAGE_BYTES/PIXELS.
    """
    from PIL import Image

    max_bytes = MAX_IMAGE_BYTES if max_bytes is None else max_bytes
    max_pixels = MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    if len(image_bytes) > max_bytes:
        return f"too_large: the image is {len(image_bytes)} bytes (limit {max_bytes})"
    try:
        with Image.open(io.BytesIO(image_bytes)) as image:
            width, height = image.size
            if width * height > max_pixels:
                return (f"too_large: the image is {width} x {height} = {width * height} pixels "
                        f"(limit {max_pixels})")
            image.verify()
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for bad files
        return f"no_output: rendered file is not a readable image ({type(exc).__name__}: {exc})"
    return None


def _load_builtins_and_plugins() -> None:
    """Register the built-in renderers, then any from the ``babelvl.renderers`` entry points."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    from babelvl.pixmo.renderers.matplotlib_renderer import MatplotlibRenderer

    if "matplotlib" not in _REGISTRY:
        register_renderer(MatplotlibRenderer())
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry.load()
            register_renderer(loaded() if isinstance(loaded, type) else loaded)
        except Exception as exc:  # noqa: BLE001 - a broken plug-in is reported, not fatal
            warnings.warn(f"could not load renderer plug-in {entry.name!r}: {exc}", stacklevel=2)


__all__ = ["ENTRY_POINT_GROUP", "MAX_IMAGE_BYTES", "MAX_IMAGE_PIXELS", "RenderResult", "Renderer",
           "available_renderers", "get_renderer", "image_problem", "record_field", "register_renderer", "render_or_keep", "renderer_for"]
