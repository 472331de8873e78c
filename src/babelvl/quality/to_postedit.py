"""Send post-edits made in a human assessment back to the translation they judged.

An assessment item is one field of one row (``{dataset}:{lang}:{row}:{field}``); translation edits are
per segment. A field's segments are listed in its row's ``babelvl_provenance``; the post-edited field
is split into lines the same way the translation split it, line i going to segment i. A field whose
line count no longer matches is reported, not guessed. The result is a work file that
``babelvl postedit import`` reads (JSONL: id, edited, editor), so edits go through the same
validation, storage and rebuild as any other post-edit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from babelvl.data.loading import load_rows
from babelvl.errors import InputError
from babelvl.io.files import write_atomic
from babelvl.quality.schema import Annotation, SampleItem


def postedit_worklist(items: Sequence[SampleItem], annotations: Sequence[Annotation], dataset_dir: Path, *,
                      out: Path, field: str = "post_edit") -> dict[str, Any]:
    """Write ``out`` (JSONL for ``babelvl postedit import``) from post-edit annotations on ``dataset_dir``."""
    by_id = {i.item_id: i for i in items}
    provenance: dict[str, list[Any]] = {}
    lines, skipped = [], []
    for a in annotations:
        item = by_id.get(a.item_id)
        text = a.values.get(field)
        if item is None or item.meta.get("dataset") != dataset_dir.name or not isinstance(text, str):
            continue
        if text.strip() == item.target_text.strip():
            continue  # accepted as is: not an edit
        if item.language not in provenance:
            rows = load_rows(str(dataset_dir), language=item.language)
            provenance[item.language] = rows["babelvl_provenance"]
        info = json.loads(provenance[item.language][item.meta["row"]]).get("fields", {}).get(item.field, {})
        segments = info.get("segments") or []
        edited_lines = [line.strip() for line in text.split("\n") if line.strip()]
        if not segments or len(edited_lines) != len(segments):
            skipped.append({"item_id": item.item_id, "reason": f"{len(edited_lines)} edited lines for "
                            f"{len(segments)} translated segments: edit it in the translation work file"})
            continue
        for sid, line in zip(segments, edited_lines):
            lines.append({"id": f"{sid}:{item.language}", "segment_id": sid, "language": item.language,
                          "edited": line, "editor": a.annotator})
    if not lines and not skipped:
        raise InputError(f"no post-edit annotation refers to dataset '{dataset_dir.name}'", file=str(dataset_dir))
    write_atomic(out, "".join(json.dumps(l, ensure_ascii=False) + "\n" for l in lines))
    return {"edits": len(lines), "skipped": skipped}
