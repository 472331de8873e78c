"""Field specs: which columns of a benchmark are translated, which never are, which come from packs.

A translated row keeps its source schema: answer keys, option letters, ids, categories and images are
copied untouched; instruction suffixes (MME's " Please answer yes or no.") and Yes/No answer words are
rewritten from the target language pack instead of being machine-translated, so they are exact and
identical on every row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from babelvl.errors import InputError


@dataclass(frozen=True)
class FieldSpec:
    translate: tuple[str, ...]
    """Text columns (str, or list of str) whose content is translated."""
    optional: tuple[str, ...] = ()
    """Translated when present and non-empty (a missing value is not a problem: MMBench hints, option D)."""
    keep: tuple[str, ...] = ()
    """Documented never-translated columns (answer keys, ids, categories, images). Any column not in
    ``translate``/``optional`` is kept as is anyway; this list is for the card and for schema checks."""
    suffixes: dict[str, str] = field(default_factory=dict)
    """column -> language-pack instruction key: the source pack's text is cut off the end before
    translation and the target pack's text is appended after."""
    answer_words: tuple[str, ...] = ()
    """Columns holding a yes/no word: rewritten to the target pack's words (case style kept)."""
    options: tuple[str, ...] = ()
    """Columns that together (or one list column) form a row's option set: checked to stay distinct, and
    translated in the same request as their question."""
    context: tuple[str, ...] = ()
    """Hint-like columns: translated with their item when short; when long, one sentence per request with
    the question as context."""
    question: str = "question"
    """The column whose text is the context of long hints' sentences."""
    code: str = "verbatim"
    """Code in any field (programs, formulas): "verbatim" keeps it as it is; "comments" translates its
    ``#``/``//`` comments only."""

    def columns_to_translate(self) -> tuple[str, ...]:
        return self.translate + self.optional


SPECS: dict[str, FieldSpec] = {
    "mmbench": FieldSpec(translate=("question",), optional=("hint", "A", "B", "C", "D"),
                         keep=("index", "answer", "category", "L2-category", "l2-category", "image",
                               "source", "split", "comment"),
                         options=("A", "B", "C", "D"), context=("hint",)),
    "scienceqa": FieldSpec(translate=("question", "choices"), optional=("hint",),
                           keep=("image", "answer", "task", "grade", "subject", "topic", "category",
                                 "skill", "lecture", "solution"),
                           options=("choices",), context=("hint",)),
    "mme": FieldSpec(translate=("question",), keep=("question_id", "image", "category"),
                     suffixes={"question": "yes_no"}, answer_words=("answer",)),
    "pope": FieldSpec(translate=("question",),
                      keep=("id", "question_id", "image_source", "image", "category"),
                      answer_words=("answer",)),
    "ai2d": FieldSpec(translate=("question", "options"), keep=("answer", "image"), options=("options",)),
}


def spec_for(benchmark: str | None, fields: str | None = None, options_field: str | None = None) -> FieldSpec:
    """The spec of a known benchmark, or a generic one from ``--fields a,b`` for any other dataset."""
    if fields:
        names = tuple(f.strip() for f in fields.split(",") if f.strip())
        return FieldSpec(translate=(), optional=names,
                         options=(options_field,) if options_field else ())
    if benchmark is None:
        raise InputError("name a --benchmark or give --fields to translate another dataset")
    from babelvl.benchmarks.registry import get_benchmark

    name = get_benchmark(benchmark).name
    spec = SPECS.get(name) or (SPECS["ai2d"] if name.startswith("ai2d") else None)
    if spec is None:
        raise InputError(f"no field spec for benchmark '{benchmark}'; pass --fields")
    return spec
