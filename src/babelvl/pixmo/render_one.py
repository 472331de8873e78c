"""``babelvl render``: one CoSyn figure (code + data files) rendered in the sandbox, for debugging.

The same path as ``build-pixmo --localize-images`` takes for each record (the matplotlib renderer,
the sandbox, the image checks), so a figure that fails there fails here with the same reason.
"""

from __future__ import annotations

from pathlib import Path

from babelvl.errors import InputError
from babelvl.pixmo.renderers import RenderResult, get_renderer
from babelvl.pixmo.sandbox import require_sandbox


def render_files(code: Path, data: Path | None, out: Path, *, timeout_s: float = 30,
                 memory_mb: int = 1024, unsafe_no_sandbox: bool = False,
                 renderer: str = "matplotlib") -> RenderResult:
    """Render ``code`` (with ``data``) and write the PNG to ``out`` only when it is acceptable.

    Raises :class:`~babelvl.errors.InputError` for unreadable inputs and
    :class:`~babelvl.pixmo.sandbox.SandboxUnavailable` when no sandbox can run (and unsafe mode
    was not chosen); a refused, stopped or imageless run is a result with ``ok`` False.
    """
    code_text = _read(code, "--code")
    data_text = _read(data, "--data") if data is not None else None
    if timeout_s <= 0:
        raise InputError(f"--timeout must be positive, got {timeout_s:g}", field="--timeout")
    if memory_mb < 64:
        raise InputError(f"--memory-mb must be at least 64, got {memory_mb}", field="--memory-mb")
    require_sandbox(unsafe_no_sandbox=unsafe_no_sandbox)
    scratch = out.resolve().parent
    scratch.mkdir(parents=True, exist_ok=True)
    result = get_renderer(renderer).render(code_text, data_text, workdir=scratch,
                                           timeout_s=timeout_s, memory_mb=memory_mb)
    if result.ok and result.image_bytes:
        partial = out.with_name(f".{out.name}.partial")
        partial.write_bytes(result.image_bytes)
        partial.replace(out)
    return result


def _read(path: Path, option: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {option}: {exc}", file=str(path)) from None


__all__ = ["render_files"]
