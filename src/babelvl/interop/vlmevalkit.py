"""VLMEvalKit interchange: read its prediction sheets, write the TSV its custom-dataset loader reads.

Prediction sheets (open-compass/VLMEvalKit @e8e78f0, ``vlmeval/inference.py`` ``infer_data_job``): the dataset's
TSV without its ``image`` column plus ``prediction``, dumped as ``<model>_<dataset>.xlsx`` by default (``.tsv``/
``.csv`` with ``PRED_FORMAT``); VLMEvalKit reads them back with pandas (``vlmeval/smp/file.py`` ``load``), and so
does babelvl. ``index`` names the item: the dataset's own index column (MMBench ``index``, whose passes
``index + k * 1e6`` are babelvl's ids); for the other benchmarks the row of the data (what
``babelvl export --to vlmevalkit`` writes; its sheets also carry ``babelvl_id``, which is used when present).
When the sheet has ``answer``, it is checked against the data so a sheet scored against other data fails loudly.

Custom datasets (``vlmeval/dataset/__init__.py`` ``build_dataset``, ``docs/en/Development.md``): a file
``$LMUData/<name>.tsv`` with ``index`` (unique integer), ``image`` (base64), ``question`` and ``answer``;
with ``A``, ``B``... columns it loads as ``CustomMCQDataset`` (options, ``hint``, ``category``,
``l2-category`` are used when present), without them as ``CustomVQADataset`` (MME/POPE yes/no sets: run
inference with VLMEvalKit, then score the sheet with ``babelvl score``, which reads yes/no in the item's language).
"""

from __future__ import annotations

import base64
import csv
import math
from pathlib import Path
from typing import Any

from babelvl.errors import InputError
from babelvl.interop.predictions import Prediction, Problems

REQUIRED = ("index", "prediction")


def _read_sheet(path: Path) -> Any:
    import pandas as pd

    if not path.is_file():
        raise InputError("no such predictions file", file=str(path))
    try:
        if path.suffix.lower() == ".xlsx":
            return pd.read_excel(path)
        return pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
    except Exception as exc:  # openpyxl/pandas raise many types for a damaged file
        raise InputError(f"cannot read the sheet: {exc}", file=str(path)) from None


def _cell(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def read_prediction_sheet(path: Path, problems: Problems | None = None) -> list[Prediction]:
    """Predictions from a VLMEvalKit ``.xlsx``/``.tsv``/``.csv`` sheet (rows named as the sheet shows them)."""
    frame = _read_sheet(path)
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise InputError(f"a VLMEvalKit prediction sheet needs columns {', '.join(REQUIRED)}; missing "
                         f"{', '.join(missing)} (found: {', '.join(map(str, frame.columns))})",
                         file=str(path), field=missing[0])
    unit = "sheet row" if path.suffix.lower() == ".xlsx" else "line"
    own = problems is None
    problems = problems or Problems(path)
    out: list[Prediction] = []
    has_id, has_answer = "babelvl_id" in frame.columns, "answer" in frame.columns
    for i, record in enumerate(frame.to_dict("records")):
        where = f"{path}: {unit} {i + 2}"  # row 1 is the header, as a spreadsheet shows it
        prediction = _cell(record["prediction"])
        response = "" if prediction is None else str(prediction)  # VLMEvalKit stores str(answer); "" reads as NaN
        answer = _cell(record.get("answer")) if has_answer else None
        target = None if answer is None else str(answer)
        if has_id and _cell(record["babelvl_id"]) is not None:
            out.append(Prediction(where, "babelvl_id", response, id=str(record["babelvl_id"]), target=target,
                                  target_field="answer"))
            continue
        raw = _cell(record["index"])
        try:
            index = int(raw) if raw is not None and float(raw) == int(float(raw)) else None
        except (TypeError, ValueError):
            index = None
        if index is None or index < 0:
            problems.add(f"{where}, field 'index': expected a non-negative integer, got {raw!r}")
            continue
        out.append(Prediction(where, "index", response, index=index, target=target, target_field="answer"))
    if own:
        problems.raise_if_any("VLMEvalKit prediction sheet")
    return out


# --- writing custom-dataset TSVs --------------------------------------------------------------------------

def dataset_name(benchmark: str, language: str) -> str:
    """Not an official VLMEvalKit name, so VLMEvalKit loads the file instead of downloading its own set."""
    return f"babelvl_{benchmark}_{language}"


def _index(item: Any, benchmark: str) -> int:
    return int(item.id) if benchmark == "mmbench" else item.row


def _image_cell(item: Any, index: int, first_index: dict[bytes, int], source: str) -> str:
    """base64 of the image's own bytes, or the index of an earlier row with the same image.

    VLMEvalKit (``vlmeval/dataset/image_base.py`` ``ImageBaseDataset.__init__``) reads an image cell of at most
    64 characters as the index of the row holding the image, the way its own MMBench/MME files save space; so a
    repeated image (MME's question pairs, MMBench's circular passes) is written once, and an image whose base64
    is that short cannot be written at all.
    """
    data = item.images[0]
    if data in first_index:
        return str(first_index[data])
    encoded = base64.b64encode(data).decode("ascii")
    if len(encoded) <= 64:
        raise InputError(f"image of {len(data)} bytes is too small for VLMEvalKit (it reads base64 cells of at "
                         "most 64 characters as a row index)", file=source, row=item.row, field="image")
    first_index[data] = index
    return encoded


def write_tsv(lset: Any, out: Path) -> dict[str, Any]:
    """Write ``OUT/babelvl_<benchmark>_<lang>.tsv`` (see module docstring); images are the data's own bytes."""
    from babelvl.io.files import write_atomic

    bench = lset.benchmark
    name = dataset_name(bench.name, lset.language)
    letters = sorted({letter for item in lset.items for letter in item.options})
    header = ["index", "image", "question"]
    if bench.kind == "choice":
        header += ["hint", *letters]
    header += ["answer", "category"]
    if bench.name == "mmbench":
        header.append("l2-category")
    header.append("babelvl_id")
    lines = []
    first_index: dict[bytes, int] = {}  # image bytes -> index of the row that carries them
    for item in lset.items:
        index = _index(item, bench.name)
        row = {"index": index, "image": _image_cell(item, index, first_index, lset.source),
               "question": item.question, "category": item.category or "", "babelvl_id": item.id,
               "hint": item.hint or "", "l2-category": item.meta.get("l2_category") or ""}
        if bench.kind == "choice":
            row.update({letter: item.options.get(letter, "") for letter in letters})
            row["answer"] = item.answer
        else:
            row["answer"] = "Yes" if item.answer == "yes" else "No"  # VLMEvalKit's Y/N gold form
        lines.append([str(row[c]) for c in header])
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(lines)
    path = out / f"{name}.tsv"
    write_atomic(path, buffer.getvalue())
    return {"dataset": name, "file": str(path), "type": "MCQ" if bench.kind == "choice" else "Y/N"}
