"""Read predictions in the formats users have, as one list of :class:`Prediction`.

Formats (``--format``; ``auto`` detects from the file name and first record, and says what it found):

- ``jsonl``: babelvl's plain predictions, one ``{"id" or "row", "response"}`` object per line.
- ``records``: babelvl's per-item records (``babelvl eval`` ``records/<benchmark>/<lang>.jsonl`` or
  ``babelvl score --records``): ``id`` and ``response``.
- ``lmms-eval``: lmms-eval's ``--log_samples`` file ``<date>_samples_<task>.jsonl``: ``doc_id`` (the row of the
  task's dataset split), ``filtered_resps`` and/or ``resps``, ``target``. See :mod:`babelvl.interop.lmms_eval`.
- ``vlmevalkit``: VLMEvalKit's prediction sheet ``<model>_<dataset>.xlsx`` (or ``.tsv``/``.csv``): ``index``,
  ``prediction`` and the dataset's columns (``answer`` when the split has one). See
  :mod:`babelvl.interop.vlmevalkit`.

Every reader reports each bad record with file, line (or sheet row) and field, all at once, so a user fixes a
file in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babelvl.errors import InputError
from babelvl.io.files import iter_jsonl

FORMATS = ("auto", "jsonl", "records", "lmms-eval", "vlmevalkit")
MAX_LISTED_PROBLEMS = 20


@dataclass
class Prediction:
    """One model answer, keyed the way its tool keys items.

    Exactly one of ``id`` (a babelvl item id), ``row`` (0-based data row) or ``index`` (VLMEvalKit's index,
    mapped per benchmark by the scorer) is set. ``target`` is the gold answer as the tool recorded it, used
    to check that the predictions belong to the data they are scored against.
    """

    where: str
    """``FILE: line N`` or ``FILE: sheet row N``: where to look when something is wrong."""
    key_field: str
    """The field the key came from (named in errors)."""
    response: str
    id: str | None = None
    row: int | None = None
    index: int | None = None
    target: str | None = None
    target_field: str = "target"


class Problems:
    """Collects per-record problems and raises them together as one :class:`InputError`."""

    def __init__(self, path: Path) -> None:
        self.path, self.items = path, []  # type: ignore[var-annotated]

    def add(self, message: str) -> None:
        self.items.append(message)

    def raise_if_any(self, what: str = "predictions file") -> None:
        if not self.items:
            return
        more = len(self.items) - MAX_LISTED_PROBLEMS
        listed = "\n  ".join(self.items[:MAX_LISTED_PROBLEMS])
        raise InputError(f"{len(self.items)} problem(s) in the {what}:\n  {listed}"
                         + (f"\n  ... and {more} more" if more > 0 else ""), file=str(self.path))


def read_jsonl_lines(path: Path) -> list[tuple[int, Any]]:
    try:
        lines = list(iter_jsonl(path))
    except ValueError as exc:
        raise InputError(str(exc), file=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read predictions: {exc}", file=str(path)) from None
    if not lines:
        raise InputError("the predictions file is empty", file=str(path))
    return lines


def detect_format(path: Path) -> tuple[str, str]:
    """``(format, why)`` for a predictions file, from its suffix and first record."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".tsv", ".csv"):
        return "vlmevalkit", f"a {suffix[1:]} sheet (VLMEvalKit prediction file)"
    if not path.is_file():
        raise InputError("no such predictions file", file=str(path))
    if suffix == ".json":
        return "lmms-eval", "a .json file (lmms-eval samples log with 'logs')"
    first = read_jsonl_lines(path)[0][1]
    if isinstance(first, dict):
        if "doc_id" in first:
            return "lmms-eval", "first line has 'doc_id' (lmms-eval --log_samples file)"
        if {"benchmark", "status", "id"} <= set(first):
            return "records", "first line has 'benchmark', 'id' and 'status' (babelvl records)"
    return "jsonl", "JSON lines with 'id' or 'row' and 'response' (babelvl predictions)"


def read_predictions(path: str | Path, fmt: str = "auto",
                     problems: Problems | None = None) -> tuple[list[Prediction], str, str]:
    """Read ``path``; return the predictions, the format used, and why that format was chosen.

    Bad records are added to ``problems`` when given (the caller raises them with its own), else raised here.
    """
    path = Path(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown predictions format '{fmt}' (known: {', '.join(FORMATS)})", field="format")
    why = "given with --format"
    if fmt == "auto":
        fmt, why = detect_format(path)
    if fmt == "vlmevalkit":
        from babelvl.interop.vlmevalkit import read_prediction_sheet

        return read_prediction_sheet(path, problems), fmt, why
    if fmt == "lmms-eval":
        from babelvl.interop.lmms_eval import read_samples

        return read_samples(path, problems), fmt, why
    return _read_babelvl(path, problems, records=fmt == "records"), fmt, why


def _read_babelvl(path: Path, problems: Problems | None, *, records: bool) -> list[Prediction]:
    own = problems is None
    problems = problems or Problems(path)
    out: list[Prediction] = []
    for number, obj in read_jsonl_lines(path):
        where = f"{path}: line {number}"
        if not isinstance(obj, dict):
            problems.add(f"{where}: expected a JSON object")
            continue
        response = obj.get("response")
        if records and response is None:
            continue  # a record of an item that got no answer (status "missing"): nothing to score
        if not isinstance(response, str):
            problems.add(f"{where}, field 'response': missing or not a string")
            continue
        if "id" in obj:
            out.append(Prediction(where, "id", response, id=str(obj["id"])))
        elif "row" in obj and not records:
            row = obj["row"]
            if not isinstance(row, int) or isinstance(row, bool) or row < 0:
                problems.add(f"{where}, field 'row': expected a non-negative integer, got {row!r}")
                continue
            out.append(Prediction(where, "row", response, row=row))
        else:
            problems.add(f"{where}: needs an 'id' field" if records
                         else f"{where}: needs an 'id' or a 'row' field")
    if own:
        problems.raise_if_any()
    return out
