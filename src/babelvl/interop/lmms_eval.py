"""lmms-eval interchange: read its ``--log_samples`` files, and run babelvl's parser inside lmms-eval tasks.

Samples files (lmms-eval 0.7.3, ``lmms_eval/evaluator.py`` ``_process_document_results`` and
``lmms_eval/loggers/evaluation_tracker.py`` ``save_results_samples``, EvolvingLMMs-Lab/lmms-eval @75571cf): one
JSON object per document with ``doc_id`` (the document's position in the task's test split after its
``process_docs``; the row of the dataset for every task babelvl knows), ``target`` (``doc_to_target``),
``filtered_resps`` (what ``process_results`` scored) and ``resps`` (raw; dropped when equal). Both are lists
(``[[text]]``, ``[text]``) in older versions and a bare string when a document had one request in newer ones, so
the reader unwraps single-element lists. Older versions also wrote one JSON file with a ``logs`` list; it is read
the same way. Each sample also holds what ``process_results`` returned; in tasks written by
``babelvl export --to lmms-eval`` that includes ``babelvl_id``, which the reader uses instead of ``doc_id``.

The task side (:func:`judge_payload`, :func:`aggregate`) is what the ``utils.py`` of an exported task calls, so
lmms-eval's numbers come from babelvl's parser (with the item's language pack: "Oui"/"Non" are yes/no in a
French MME, which lmms-eval's own MME scorer reads as "other") and babelvl's metrics.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from babelvl.errors import InputError
from babelvl.interop.predictions import Prediction, Problems, read_jsonl_lines

#: lmms-eval metric name -> path into babelvl's metrics dict, per benchmark (what exported tasks report).
TASK_METRICS: dict[str, dict[str, tuple[str, ...]]] = {
    "mme": {"perception": ("perception",), "cognition": ("cognition",), "total": ("total",)},
    "pope": {name: ("overall", name) for name in ("accuracy", "precision", "recall", "f1", "yes_ratio")},
    "mmbench": {"circular_accuracy": ("circular_accuracy",), "vanilla_accuracy": ("vanilla_accuracy",)},
    "scienceqa": {"accuracy": ("accuracy",)},
    "ai2d": {"accuracy": ("accuracy",)},
    "ai2d_no_mask": {"accuracy": ("accuracy",)},
}


# --- reading samples files -------------------------------------------------------------------------------

def _first_text(value: Any) -> Any:
    """``[[text]]`` / ``[text]`` / ``text`` -> ``text`` (lmms-eval takes the first response of a request)."""
    while isinstance(value, list) and value:
        value = value[0]
    return value


def _sample_lines(path: Path) -> list[tuple[int, Any]]:
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read lmms-eval samples log: {exc}", file=str(path)) from None
        logs = data.get("logs") if isinstance(data, dict) else None
        if not isinstance(logs, list) or not logs:
            raise InputError("expected a JSON object with a non-empty 'logs' list (lmms-eval samples log)",
                             file=str(path), field="logs")
        return [(i, entry) for i, entry in enumerate(logs)]
    return read_jsonl_lines(path)


def read_samples(path: Path, problems: Problems | None = None) -> list[Prediction]:
    """Predictions from an lmms-eval samples file (JSONL, or the older JSON with ``logs``)."""
    own = problems is None
    problems = problems or Problems(path)
    out: list[Prediction] = []
    unit = "entry" if path.suffix.lower() == ".json" else "line"
    for number, sample in _sample_lines(path):
        where = f"{path}: {unit} {number}"
        if not isinstance(sample, dict):
            problems.add(f"{where}: expected a JSON object")
            continue
        if "filtered_resps" not in sample and "resps" not in sample:
            problems.add(f"{where}: needs a 'filtered_resps' or 'resps' field (is this an lmms-eval samples file?)")
            continue
        field = "filtered_resps" if "filtered_resps" in sample else "resps"
        response = _first_text(sample.get(field))
        if not isinstance(response, str):
            problems.add(f"{where}, field '{field}': no text response (found {sample.get(field)!r:.60})")
            continue
        target = sample.get("target")
        target = None if target is None else str(_first_text(target))
        babelvl_id = next((v["babelvl_id"] for v in sample.values()
                           if isinstance(v, dict) and "babelvl_id" in v), None)
        if babelvl_id is not None:
            out.append(Prediction(where, "babelvl_id", response, id=str(babelvl_id), target=target))
            continue
        doc_id = sample.get("doc_id")
        if not isinstance(doc_id, int) or isinstance(doc_id, bool) or doc_id < 0:
            problems.add(f"{where}, field 'doc_id': expected a non-negative integer, got {doc_id!r}")
            continue
        out.append(Prediction(where, "doc_id", response, row=doc_id, target=target))
    if own:
        problems.raise_if_any("lmms-eval samples file")
    return out


# --- inside lmms-eval: what an exported task's utils.py calls ---------------------------------------------

def item_payload(item: Any, prompt: str) -> str:
    """The ``babelvl_item`` cell of an exported row: everything scoring needs, without images."""
    return json.dumps({"benchmark": item.benchmark, "language": item.language, "id": item.id, "row": item.row,
                       "question": item.question, "answer": item.answer, "options": item.options,
                       "hint": item.hint, "category": item.category, "meta": item.meta, "prompt": prompt},
                      ensure_ascii=False)


def judge_payload(cell: str, response: str, parser: str = "babelvl") -> dict[str, Any]:
    """Score one lmms-eval response with babelvl's parser in the item's language; the per-sample record."""
    from babelvl.benchmarks.base import Item
    from babelvl.benchmarks.registry import get_benchmark
    from babelvl.eval.scoring import judge, scored_to_record
    from babelvl.languages import load_language

    data = json.loads(cell)
    data.pop("prompt")  # lmms-eval logs the prompt itself (``input``)
    item = Item(**data)
    bench = get_benchmark(item.benchmark)
    scored = judge(bench, item, response, load_language(item.language), parser)
    record = scored_to_record(scored, benchmark=bench.name, prompt=None, response=response)
    return {**record, "babelvl_id": item.id, "parser": parser}


def metrics_of(results: list[dict[str, Any]]) -> dict[str, Any]:
    """babelvl's metrics over the per-sample records lmms-eval collected for one task."""
    from babelvl.benchmarks.registry import get_benchmark
    from babelvl.eval.scoring import compute_metrics, record_to_scored

    bench = get_benchmark(results[0]["benchmark"])
    # lmms-eval takes one number per aggregation (its stderr column stays N/A): no bootstrap here;
    # `babelvl score` on the samples file gives the same numbers with their intervals.
    return compute_metrics(bench, [record_to_scored(r) for r in results], results[0].get("parser", "babelvl"),
                           uncertainty=False)


def metric_value(metrics: dict[str, Any], path: tuple[str, ...]) -> float | None:
    """Follow ``path`` into a metrics dict; a value carrying its uncertainty gives its point estimate."""
    value: Any = metrics
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if isinstance(value, dict):
        value = next((value[k] for k in ("value", "estimate", "mean") if k in value), None)
    return None if value is None else float(value)


def aggregate(results: list[dict[str, Any]], metric: str) -> float | None:
    """An lmms-eval aggregation: the named babelvl metric over all of a task's samples."""
    benchmark = results[0]["benchmark"]
    return metric_value(metrics_of(results), TASK_METRICS[benchmark][metric])
