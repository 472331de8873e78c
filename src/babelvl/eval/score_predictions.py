"""``babelvl score``: official metrics for a predictions file made by any tool, without a model.

Reads babelvl predictions JSONL (``id`` or ``row`` + ``response``), babelvl records, lmms-eval ``--log_samples``
files and VLMEvalKit prediction sheets (:mod:`babelvl.interop.predictions`; ``fmt="auto"`` detects which).
Each prediction is mapped to one item of ``data``: by babelvl id, by row (lmms-eval ``doc_id`` is the row of
its dataset split), or by VLMEvalKit ``index`` (MMBench: the index column, i.e. babelvl's id; other benchmarks:
the row). When the file records the gold answer (lmms-eval ``target``, VLMEvalKit ``answer``) it must agree with
the data's, so predictions scored against the wrong split or language fail instead of giving a wrong number.
Every problem is collected and reported together, each naming the file, line (or sheet row) and field.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

from babelvl.benchmarks import normalise_yes_no, yes_no_words
from babelvl.benchmarks.base import Item, Rejected
from babelvl.benchmarks.registry import get_benchmark
from babelvl.data.loading import load_rows
from babelvl.eval.scoring import score_responses, scored_to_record, with_provenance
from babelvl.interop.predictions import Prediction, Problems, read_predictions
from babelvl.io.files import write_atomic
from babelvl.languages import load_language


def _load_items(benchmark: Any, data: str, language: str, config: str | None,
                split: str | None, circular: bool) -> tuple[list[Item], list[Rejected]]:
    rows = load_rows(data, config=config, split=split, language=language)
    items, rejected = [], []
    kwargs = {"circular": circular} if benchmark.name == "mmbench" else {}
    bench = type(benchmark)(**kwargs) if kwargs else benchmark
    for obj in bench.iter_items(rows, language, data):
        (rejected if isinstance(obj, Rejected) else items).append(obj)
    return items, rejected


def _gold(target: str, kind: str, words: tuple[frozenset[str], frozenset[str]]) -> str | None:
    """A tool's recorded gold answer in babelvl's form ("yes"/"no" or a letter); None if not comparable."""
    if kind == "yesno":
        return normalise_yes_no(target, words)
    letter = target.strip().strip("().").upper()
    return letter if re.fullmatch(r"[A-Z]", letter) else None


class _Matcher:
    """Maps each prediction's key to an item of the data, collecting problems."""

    def __init__(self, bench: Any, items: list[Item], language: str) -> None:
        self.bench = bench
        self.by_id = {item.id: item for item in items}
        self.by_row: dict[int, Item] = {}
        for item in items:
            self.by_row.setdefault(item.row, item)  # a row's first item is its original pass
        self.words = yes_no_words(language)

    def item(self, pred: Prediction, problems: Problems) -> Item | None:
        where = f"{pred.where}, field '{pred.key_field}'"
        if pred.id is not None:
            item = self.by_id.get(pred.id)
            if item is None:
                problems.add(f"{where}: unknown item id {pred.id!r}")
            return item
        row = pred.row
        if pred.index is not None:
            if self.bench.name == "mmbench":  # VLMEvalKit's MMBench index is babelvl's id
                item = self.by_id.get(str(pred.index))
                if item is None:
                    problems.add(f"{where}: no MMBench item with index {pred.index}")
                return item
            row = pred.index
        item = self.by_row.get(row) if row is not None else None
        if item is None:
            problems.add(f"{where}: no scorable item at row {row!r} (data has {len(self.by_row)} item rows)")
            return None
        return item

    def check_target(self, pred: Prediction, item: Item, problems: Problems) -> None:
        if pred.target is None:
            return
        gold = _gold(pred.target, self.bench.kind, self.words)
        if item.options and pred.target.strip() == item.options.get(item.answer, "").strip():
            return  # a tool that records the gold option's text (lmms-eval AI2D "qa" format)
        if gold is not None and gold != item.answer:
            problems.add(f"{pred.where}, field '{pred.target_field}': the file's gold answer {pred.target!r} is not the "
                         f"data's ({item.answer!r}, item {item.id}); are --data, --subset and --split the data "
                         "these predictions were made on?")


def score_predictions(*, benchmark: str, data: str, predictions: str | Path, language: str = "en",
                      parser: str = "babelvl", config: str | None = None, split: str | None = None,
                      fmt: str = "auto", records: str | Path | None = None,
                      only_predicted: bool = False) -> dict[str, Any]:
    """Score ``predictions`` against ``data``; return the metrics dict (see README for its keys).

    ``records``: also write one JSONL record per item (id, row, response, parsed prediction, gold answer,
    correct, status, ...), the same records ``babelvl eval`` writes, so they can be re-scored or audited.
    ``only_predicted``: score only the items that have a prediction (a partial run, e.g. lmms-eval ``--limit``),
    instead of counting every other item as a wrong "missing" answer; the left-out items stay listed in
    ``unscored``.
    """
    bench = get_benchmark(benchmark)
    pack = load_language(language)
    path = Path(predictions)
    problems = Problems(path)
    preds, used_format, why = read_predictions(path, fmt, problems)
    # MMBench: predictions may name rotated passes (id >= 1e6) of data that holds only originals.
    keys = [p.id if p.id is not None else p.index for p in preds]
    wants_rotations = bench.name == "mmbench" and any(
        str(k).isdigit() and int(k) >= 1_000_000 for k in keys if k is not None)
    items, rejected = _load_items(bench, data, language, config, split, circular=wants_rotations)
    matcher = _Matcher(bench, items, language)
    responses: dict[str, str] = {}
    seen: dict[str, str] = {}
    for pred in preds:
        item = matcher.item(pred, problems)
        if item is None:
            continue
        if item.id in seen:
            problems.add(f"{pred.where}, field '{pred.key_field}': item {item.id} already predicted on "
                         f"{seen[item.id].rsplit(': ', 1)[-1]}")
            continue
        matcher.check_target(pred, item, problems)
        seen[item.id] = pred.where
        responses[item.id] = pred.response
    problems.raise_if_any()

    left_out = [item for item in items if item.id not in responses] if only_predicted else []
    if left_out:
        items = [item for item in items if item.id in responses]
    result = score_responses(bench, items, responses, pack, parser)
    scored, metrics = result.scored, result.metrics
    if records is not None:
        write_atomic(Path(records), "".join(
            _json_line(scored_to_record(s, benchmark=bench.name, prompt=None, response=responses.get(s.id)))
            for s in scored))
    unscored = [{"id": s.id, "row": s.row, "reason": "no prediction for this item"}
                for s in scored if s.status == "missing"]
    unscored += [{"id": i.id, "row": i.row, "reason": "no prediction for this item (left out: only_predicted)"}
                 for i in left_out]
    unscored += [{"id": r.id, "row": r.row, "field": r.field, "reason": r.reason} for r in rejected]
    return with_provenance(metrics, benchmark=bench.name, language=language, parser=parser,
                           data=data, predictions=str(path), predictions_format=used_format,
                           predictions_format_reason=why, n_predictions=len(responses),
                           unscored=unscored, rejected_rows=[asdict(r) for r in rejected])


def _json_line(obj: Any) -> str:
    import json

    return json.dumps(obj, ensure_ascii=False) + "\n"
