"""``babelvl score``: official metrics for a predictions file made by any tool, without a model.

Predictions are JSONL lines with ``response`` and either ``id`` (babelvl's stable item id) or ``row``
(0-based row of the data). Every problem in the file is collected and reported together, each naming
the file, line and field, so a user fixes them in one pass.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from babelvl.benchmarks.base import Item, Rejected
from babelvl.benchmarks.registry import get_benchmark
from babelvl.data.loading import load_rows
from babelvl.errors import InputError
from babelvl.eval.scoring import compute_metrics, judge, with_provenance
from babelvl.io.files import iter_jsonl
from babelvl.languages import load_language

MAX_LISTED_PROBLEMS = 20


def _read_predictions(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        lines = list(iter_jsonl(path))
    except ValueError as exc:
        raise InputError(str(exc), file=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read predictions: {exc}", file=str(path)) from None
    if not lines:
        raise InputError("the predictions file is empty", file=str(path))
    return lines


def _load_items(benchmark: Any, data: str, language: str, config: str | None,
                split: str | None, circular: bool) -> tuple[list[Item], list[Rejected]]:
    rows = load_rows(data, config=config, split=split, language=language)
    items, rejected = [], []
    kwargs = {"circular": circular} if benchmark.name == "mmbench" else {}
    bench = type(benchmark)(**kwargs) if kwargs else benchmark
    for obj in bench.iter_items(rows, language, data):
        (rejected if isinstance(obj, Rejected) else items).append(obj)
    return items, rejected


def score_predictions(*, benchmark: str, data: str, predictions: str | Path, language: str = "en",
                      parser: str = "babelvl", config: str | None = None,
                      split: str | None = None) -> dict[str, Any]:
    """Score ``predictions`` against ``data``; return the metrics dict (see README for its keys)."""
    bench = get_benchmark(benchmark)
    pack = load_language(language)
    path = Path(predictions)
    lines = _read_predictions(path)
    # MMBench: predictions may name rotated passes (id >= 1e6) of data that holds only originals.
    wants_rotations = bench.name == "mmbench" and any(
        str(p.get("id", "")).isdigit() and int(p["id"]) >= 1_000_000 for _, p in lines
        if isinstance(p, dict))
    items, rejected = _load_items(bench, data, language, config, split, circular=wants_rotations)
    by_id = {item.id: item for item in items}
    by_row: dict[int, Item] = {}
    for item in items:
        by_row.setdefault(item.row, item)  # a row's first item is its original pass

    problems: list[str] = []
    responses: dict[str, str] = {}
    seen_line: dict[str, int] = {}
    for number, pred in lines:
        where = f"{path}: line {number}"
        if not isinstance(pred, dict):
            problems.append(f"{where}: expected a JSON object")
            continue
        if not isinstance(pred.get("response"), str):
            problems.append(f"{where}, field 'response': missing or not a string")
            continue
        if "id" in pred:
            item = by_id.get(str(pred["id"]))
            if item is None:
                problems.append(f"{where}, field 'id': unknown item id {pred['id']!r}")
                continue
        elif "row" in pred:
            row = pred["row"]
            item = by_row.get(row) if isinstance(row, int) else None
            if item is None:
                problems.append(f"{where}, field 'row': no scorable item at row {row!r} "
                                f"(data has {len(by_row)} item rows)")
                continue
        else:
            problems.append(f"{where}: needs an 'id' or a 'row' field")
            continue
        if item.id in seen_line:
            problems.append(f"{where}, field '{'id' if 'id' in pred else 'row'}': item {item.id} "
                            f"already predicted on line {seen_line[item.id]}")
            continue
        seen_line[item.id] = number
        responses[item.id] = pred["response"]
    if problems:
        more = len(problems) - MAX_LISTED_PROBLEMS
        listed = "\n  ".join(problems[:MAX_LISTED_PROBLEMS])
        raise InputError(f"{len(problems)} problem(s) in the predictions file:\n  {listed}"
                         + (f"\n  ... and {more} more" if more > 0 else ""), file=str(path))

    scored = [judge(bench, item, responses.get(item.id), pack, parser) for item in items]
    metrics = compute_metrics(bench, scored, parser)
    unscored = [{"id": s.id, "row": s.row, "reason": "no prediction for this item"}
                for s in scored if s.status == "missing"]
    unscored += [{"id": r.id, "row": r.row, "field": r.field, "reason": r.reason} for r in rejected]
    return with_provenance(metrics, benchmark=bench.name, language=language, parser=parser,
                           data=data, predictions=str(path), n_predictions=len(responses),
                           unscored=unscored, rejected_rows=[asdict(r) for r in rejected])
