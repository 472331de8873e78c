"""The post-editing loop on a translated dataset: export work files, import edits, rebuild.

Editors see plain texts (protected spans put back); on import their text is masked again with the
segment's spans, stored in the run's edit store, and the dataset is rebuilt from the engine cache, so
edits cost no engine call and a re-import of the same file changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from babelvl.errors import InputError
from babelvl.translate.pipeline import TranslateSpec, edits_path, load_segments, run_translate
from babelvl.translate.placeholders import remask, unmask


def _run_spec(out_dir: Path) -> TranslateSpec:
    path = out_dir / "translate.json"
    if not path.exists():
        raise InputError("not a babelvl translation folder (no translate.json)", file=str(path))
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the run file ({exc})", file=str(path)) from None
    spec = TranslateSpec.from_json(stored, run_dir=out_dir)  # this folder, even when copied or moved
    if spec.data_path and not Path(spec.data_path).exists() and not Path(spec.data).exists():
        raise InputError(f"the source data of this run is gone ({spec.data_path}); put it back there to "
                         "rebuild the dataset", file=str(path), field="data_path")
    return spec


def export_for_review(out_dir: Path, path: Path, *, fmt: str, languages: list[str] | None = None) -> int:
    """Write a review work file for ``languages`` (default: all targets); returns the number of entries."""
    from babelvl.translate.postedit import export_worklist

    spec = _run_spec(out_dir)
    codes = languages or [c for c in spec.languages if c != spec.source_language]
    translations, values = [], {}
    for code in codes:
        segs, vals = load_segments(out_dir, code)
        translations += list(segs.values())
        values.update(vals)
    export_worklist(translations, path, format=fmt,
                    unmask=lambda sid, text: unmask(text, values[sid]))
    return len(translations)


def import_reviews(out_dir: Path, path: Path, *, editor: str | None = None, rebuild: bool = True) -> dict[str, Any]:
    """Validate and store the edits in ``path`` (all or nothing), then rebuild the dataset."""
    from babelvl.translate.edits import EditStore
    from babelvl.translate.postedit import import_edits

    spec = _run_spec(out_dir)
    known, values = {}, {}
    for code in [c for c in spec.languages if c != spec.source_language]:
        segs, vals = load_segments(out_dir, code)
        known.update({f"{sid}:{code}": t for sid, t in segs.items()})
        values.update(vals)
    edits = import_edits(path, known=known, mask=lambda sid, plain: remask(plain, values[sid]),
                         default_editor=editor)
    result = EditStore(edits_path(out_dir)).apply(edits)
    summary: dict[str, Any] = {"imported": len(edits), **{k: getattr(result, k) for k in ("added", "changed", "unchanged")}}
    if rebuild and (result.added or result.changed):
        summary["rebuild"] = run_translate(spec)
    return summary
