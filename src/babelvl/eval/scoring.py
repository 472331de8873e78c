"""Turn a model response into a :class:`Scored` outcome: shared by ``babelvl eval`` and ``babelvl score``."""

from __future__ import annotations

from typing import Any

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
    return Scored(id=item.id, row=item.row, language=item.language, answer=item.answer,
                  prediction=prediction, status=status,
                  correct=prediction is not None and prediction == item.answer,
                  category=item.category, meta=dict(item.meta), options=dict(item.options))


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
