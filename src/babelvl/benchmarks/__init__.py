"""The five benchmarks (MMBench, ScienceQA-IMG, MME, POPE, AI2D) and the small helpers they share.

The helpers are defined before the registry is imported, so benchmark modules can import them from
here without an import cycle. Use :func:`get_benchmark` (``babelvl.benchmarks.registry``) to get one.
"""

from __future__ import annotations

import operator
from collections import Counter
from typing import Any, Callable, Iterable, Sequence

from babelvl.errors import BabelvlError


def text_or_none(value: Any) -> str | None:
    """Cell text with outer whitespace removed; None for missing, NaN, "nan" and empty cells.

    MMBench stores absent hints/options as NaN (pandas) or the string "nan"; both mean "no value"
    (:func:`babelvl.data.loading.is_absent`, shared with the translation pipeline).
    """
    from babelvl.data.loading import is_absent

    return None if is_absent(value) else str(value).strip()


def as_int(value: Any) -> int | None:
    """An integer cell (Python, NumPy, or an integral float) as int; None otherwise (bools too)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    try:
        return operator.index(value)
    except TypeError:
        return None


def status_counts(scored: Sequence[Any]) -> dict[str, int]:
    """``n_unparseable``, ``n_refusal``, ``n_unsure``, ``n_empty`` and ``n_missing``: reported with every metrics dict."""
    counts = Counter(s.status for s in scored)
    return {"n_unparseable": counts["unparseable"], "n_refusal": counts["refusal"],
            "n_unsure": counts["unsure"], "n_empty": counts["empty"],
            "n_missing": counts["missing"]}


def accuracy(scored: Sequence[Any]) -> float | None:
    """Fraction correct; None (not 0) when there is nothing to score."""
    return sum(1 for s in scored if s.correct) / len(scored) if scored else None


def accuracy_by(scored: Iterable[Any], key: Callable[[Any], str | None]) -> dict[str, dict[str, Any]]:
    """``{group: {"accuracy", "n"}}`` for every group ``key`` yields (None keys are skipped)."""
    groups: dict[str, list[Any]] = {}
    for s in scored:
        name = key(s)
        if name is not None:
            groups.setdefault(str(name), []).append(s)
    return {name: {"accuracy": accuracy(items), "n": len(items)} for name, items in sorted(groups.items())}


def items_by_row(benchmark: Any, rows: Any, language: str, source: str, id_of: Callable[[int], str]) -> Any:
    """One item per data row via ``benchmark._item``; a bad row becomes a ``Rejected`` with its row and field.

    Shared by the benchmarks whose items map one-to-one onto rows and whose ids derive from the row.
    """
    from babelvl.benchmarks.base import Rejected
    from babelvl.data.loading import iter_rows, require_columns
    from babelvl.errors import InputError

    require_columns(rows, benchmark.required_columns, file=source, benchmark=benchmark.name)
    for row, record in iter_rows(rows):
        try:
            yield benchmark._item(record, row, language, source)
        except InputError as exc:
            yield Rejected(benchmark.name, language, row, exc.field, exc.reason, file=source, id=id_of(row))


def lettered_options(value: Any, *, field: str, file: str, row: int) -> dict[str, str]:
    """A list of 2 to 26 option texts (ScienceQA ``choices``, AI2D ``options``) as ``{"A": text, ...}``."""
    from babelvl.errors import InputError

    if not isinstance(value, (list, tuple)) or not 2 <= len(value) <= 26:
        raise InputError("must be a list of 2 to 26 texts", file=file, row=row, field=field)
    texts = [text_or_none(v) for v in value]
    if any(t is None for t in texts):
        raise InputError("empty option text", file=file, row=row, field=field)
    return {chr(65 + i): str(t) for i, t in enumerate(texts)}


def option_lines(options: dict[str, str]) -> str:
    """``A. text`` lines, the option layout lmms-eval and VLMEvalKit both use."""
    return "\n".join(f"{letter}. {text}" for letter, text in options.items())


def prompt_label(pack: Any, key: str, default: str) -> str:
    """A pack label without a trailing colon (the prompt layout adds it)."""
    return pack.label(key, default).strip().rstrip(":：").strip()


def yes_no_words(language: str) -> tuple[frozenset[str], frozenset[str]]:
    """Casefolded yes and no words of ``language``'s pack plus English (translated sets mix both)."""
    from babelvl.languages import load_language

    yes, no = {"yes"}, {"no"}
    try:
        pack = load_language(language)
    except BabelvlError:
        pack = None  # unknown language: English words only; other answers are rejected, visibly
    if pack is not None:
        yes |= {w.casefold() for w in pack.yes}
        no |= {w.casefold() for w in pack.no}
    return frozenset(yes), frozenset(no)


def normalise_yes_no(value: Any, words: tuple[frozenset[str], frozenset[str]]) -> str | None:
    """Gold "Yes"/"Oui."/"sì" -> "yes"/"no"; None when the cell is neither."""
    text = text_or_none(value)
    if text is None:
        return None
    text = text.strip(" .!¡¿?\"'").casefold()
    yes, no = words
    if text in yes and text not in no:
        return "yes"
    if text in no and text not in yes:
        return "no"
    return None


from babelvl.benchmarks.registry import (BENCHMARKS, EXTRA_BENCHMARKS, benchmark_names,  # noqa: E402
                                         get_benchmark)

__all__ = ["BENCHMARKS", "EXTRA_BENCHMARKS", "accuracy", "accuracy_by", "as_int", "benchmark_names",
           "get_benchmark", "normalise_yes_no", "option_lines", "prompt_label", "status_counts",
           "text_or_none", "yes_no_words"]
