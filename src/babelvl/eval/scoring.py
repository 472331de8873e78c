"""Turn model responses into :class:`Scored` outcomes and metrics: shared by ``babelvl eval`` and ``babelvl score``.

A profile (``--parser``) fixes both how each response is read and how a benchmark aggregates; they
differ only where the named tool does: ``lmms-eval`` on POPE uses lmms-eval's recall and yes-ratio
(``babelvl.benchmarks.pope.lmms_eval_binary_metrics``); every other profile x benchmark uses the
benchmark's official aggregation. Every metrics dict carries an ``uncertainty`` block
(``babelvl.eval.uncertainty``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from babelvl import __version__
from babelvl.benchmarks.base import Benchmark, Item, Scored
from babelvl.languages import LanguagePack
from babelvl.parsing import parse_answer


def judge(benchmark: Benchmark, item: Item, response: str | None, pack: LanguagePack,
          parser: str) -> Scored:
    """Parse ``response`` for ``item``; a missing response is scored wrong with status "missing"."""
    if response is None:
        prediction, status = None, "missing"
    else:
        parsed = parse_answer(response, kind=benchmark.kind, options=item.options, pack=pack,
                              mode=parser, benchmark=benchmark.name)
        prediction, status = parsed.prediction, parsed.status
        if prediction is None and not response.strip():
            status = "empty"  # whatever the profile calls it: nothing was generated
    return Scored(id=item.id, row=item.row, language=item.language, answer=item.answer,
                  prediction=prediction, status=status,
                  correct=prediction is not None and prediction == item.answer,
                  category=item.category, meta=dict(item.meta), options=dict(item.options))


def compute_metrics(benchmark: Benchmark, scored: Sequence[Scored], parser: str = "babelvl", *,
                    uncertainty: bool = True) -> dict[str, Any]:
    """The benchmark's metrics under ``parser``'s aggregation, with standard errors and 95% intervals."""
    from babelvl.eval.uncertainty import metric_uncertainty

    if parser == "lmms-eval" and benchmark.name == "pope":
        from babelvl.benchmarks.pope import lmms_eval_binary_metrics

        metrics = benchmark.metrics(scored, aggregate=lmms_eval_binary_metrics)  # type: ignore[call-arg]
    else:
        metrics = benchmark.metrics(scored)
    if uncertainty:
        metrics["uncertainty"] = metric_uncertainty(benchmark.name, scored, parser)
    return metrics


@dataclass
class ScoreResult:
    metrics: dict[str, Any]
    scored: list[Scored]
    """Per-item judgments in item order (id, response's parsed answer, correct, status)."""


def score_responses(benchmark: Benchmark, items: Sequence[Item], responses: Mapping[str | int, str | None],
                    language: str | LanguagePack, parser: str = "babelvl") -> ScoreResult:
    """Score ``responses`` for ``items``: keys are item ids (str) or 0-based data rows (int, the row's
    first item, i.e. its original MMBench pass); an item without a response is "missing".

    The one entry point for scoring predictions made elsewhere (babelvl records, lmms-eval samples,
    VLMEvalKit sheets): readers map their rows to ids or rows, this does the rest.
    """
    from babelvl.languages import load_language

    pack = load_language(language) if isinstance(language, str) else language
    by_id: dict[str, str | None] = {str(k): v for k, v in responses.items() if not isinstance(k, int)}
    if len(by_id) < len(responses):
        first_of_row: dict[int, str] = {}
        for item in items:
            first_of_row.setdefault(item.row, item.id)
        for key, value in responses.items():
            if isinstance(key, int) and key in first_of_row:
                by_id.setdefault(first_of_row[key], value)
    scored = [judge(benchmark, item, by_id.get(item.id), pack, parser) for item in items]
    metrics = with_provenance(compute_metrics(benchmark, scored, parser), benchmark=benchmark.name,
                              language=pack.code, parser=parser)
    return ScoreResult(metrics, scored)


def scored_to_record(scored: Scored, *, benchmark: str, prompt: str | None,
                     response: str | None) -> dict[str, Any]:
    """The per-item JSONL record: everything needed to audit and re-score an item."""
    # Built by hand: dataclasses.asdict deep-copies every field and was the top cost of cached re-runs.
    fields = {name: getattr(scored, name) for name in Scored.__dataclass_fields__}
    return {"benchmark": benchmark, **fields, "prompt": prompt, "response": response}


def record_to_scored(record: dict[str, Any]) -> Scored:
    return Scored(**{k: record[k] for k in Scored.__dataclass_fields__ if k in record})


def with_provenance(metrics: dict[str, Any], *, benchmark: str, language: str, parser: str,
                    **extra: Any) -> dict[str, Any]:
    """Every metrics dict says how it was made: parser, language, babelvl version."""
    return {**metrics, "benchmark": benchmark, "language": language, "parser": parser,
            "babelvl_version": __version__, **extra}
