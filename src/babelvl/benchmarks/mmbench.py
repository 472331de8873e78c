"""MMBench (``lmms-lab/MMBench``, config en, split dev) with CircularEval.

Schema: index (int64), question, hint, A-D (strings, None/NaN when a question has fewer options), answer
(letter), category, L2-category (``l2-category`` in some copies), image, source, comment, split.

Ids and CircularEval follow VLMEvalKit (``vlmeval/dataset/utils/multiple_choice.py``,
``mcq_circular_eval``): a row with ``index >= 1_000_000`` is a rotated copy of question
``index % 1_000_000``; the question counts as correct only if every pass present is correct. The Hub
dev split already holds the rotated copies. When the data holds only originals (the sample suite,
hand-made sets), :meth:`MMBench.iter_items` builds the N passes itself (N = number of options): pass k
shows at letter i the text of original option (i + k) mod N, so the answer letter moves from a to
(a - k) mod N; its id is ``index + k * 1_000_000`` (the rotation of OpenCompass'
``get_circular_patterns``, which VLMEvalKit's circular files use).
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from babelvl.benchmarks import as_int, option_lines, prompt_label, status_counts, text_or_none
from babelvl.benchmarks.base import Benchmark, Item, Rejected, Scored
from babelvl.data.images import image_bytes
from babelvl.data.loading import column_values, iter_rows, require_columns
from babelvl.errors import InputError
from babelvl.languages import LanguagePack

CIRCULAR_OFFSET = 1_000_000
OPTION_LETTERS = "ABCDEFGHI"
L2_COLUMNS = ("L2-category", "l2-category", "l2_category")
NO_CIRCULAR_NOTE = ("no question has more than one pass (the data holds only originals and circular "
                    "expansion is off), so CircularEval cannot be computed; see vanilla_accuracy")


def rotate(options: dict[str, str], answer: str, k: int) -> tuple[dict[str, str], str]:
    """Pass ``k`` of a question: option texts shifted by ``k`` over the same letters, answer moved."""
    letters, texts = list(options), list(options.values())
    n = len(letters)
    rotated = {letters[i]: texts[(i + k) % n] for i in range(n)}
    return rotated, letters[(letters.index(answer) - k) % n]


class MMBench(Benchmark):
    name = "mmbench"
    kind = "choice"
    hub_id = "lmms-lab/MMBench"
    config = "en"
    split = "dev"
    license = "Apache-2.0 (MMBench, open-compass); images from their original sources"
    required_columns = ("index", "question", "A", "B", "answer", "image")
    translated_hub_id: str | None = None

    def __init__(self, circular: bool = True) -> None:
        self.circular = circular
        """Build rotated passes when the data holds only originals (ignored when copies are present)."""

    # --- items ---------------------------------------------------------------------------------------

    def iter_items(self, rows: Any, language: str, source: str) -> Iterator[Item | Rejected]:
        columns = require_columns(rows, self.required_columns, file=source, benchmark=self.name)
        letters = [c for c in OPTION_LETTERS if c in columns]
        l2_column = next((c for c in L2_COLUMNS if c in columns), None)
        expand = self.circular and not self._has_copies(rows)
        for row, record in iter_rows(rows):
            try:
                base = self._item(record, row, language, source, letters, l2_column)
            except InputError as exc:
                yield Rejected(self.name, language, row, exc.field, exc.reason, file=source,
                               id=text_or_none(record.get("index")))
                continue
            yield base
            if expand and base.meta["pass"] == 0:
                for k in range(1, len(base.options)):
                    options, answer = rotate(base.options, base.answer, k)
                    index = base.meta["group"] + k * CIRCULAR_OFFSET
                    yield Item(self.name, language, str(index), row, base.question, answer,
                               options=options, hint=base.hint, images=base.images,
                               category=base.category, meta={**base.meta, "pass": k})

    @staticmethod
    def _has_copies(rows: Any) -> bool:
        return any((i := as_int(v)) is not None and i >= CIRCULAR_OFFSET
                   for v in column_values(rows, "index"))

    def _item(self, record: dict[str, Any], row: int, language: str, source: str,
              letters: list[str], l2_column: str | None) -> Item:
        index = as_int(record.get("index"))
        if index is None or index < 0:
            raise InputError(f"index must be a non-negative integer, got {record.get('index')!r}",
                             file=source, row=row, field="index")
        question = text_or_none(record.get("question"))
        if question is None:
            raise InputError("empty question", file=source, row=row, field="question")
        options = {c: text for c in letters if (text := text_or_none(record.get(c))) is not None}
        if len(options) < 2:
            missing = next(c for c in letters if c not in options)
            raise InputError(f"needs at least two options, found {len(options)}", file=source, row=row,
                             field=missing)
        answer = (text_or_none(record.get("answer")) or "").upper()
        if answer not in options:
            raise InputError(f"answer {record.get('answer')!r} is not one of the options "
                             f"{', '.join(options)}", file=source, row=row, field="answer")
        images = [image_bytes(record.get("image"), file=source, row=row, field="image")]
        l2 = text_or_none(record.get(l2_column)) if l2_column else None
        return Item(self.name, language, str(index), row, question, answer, options=options,
                    hint=text_or_none(record.get("hint")), images=images,
                    category=text_or_none(record.get("category")),
                    meta={"group": index % CIRCULAR_OFFSET, "pass": index // CIRCULAR_OFFSET,
                          "l2_category": l2})

    # --- prompt --------------------------------------------------------------------------------------

    def prompt(self, item: Item, pack: LanguagePack) -> str:
        """lmms-eval's layout (hint, question, options block, instruction) with the pack's wording."""
        parts = []
        if item.hint:
            parts.append(f"{prompt_label(pack, 'hint', 'Hint')}: {item.hint}")
        parts.append(item.question)
        parts.append(f"{prompt_label(pack, 'options', 'Options')}:\n{option_lines(item.options)}")
        parts.append(pack.instruction("multiple_choice"))
        return "\n".join(parts)

    # --- metrics -------------------------------------------------------------------------------------

    def metrics(self, scored: Sequence[Scored]) -> dict[str, Any]:
        groups: dict[int, list[Scored]] = {}
        for s in scored:
            groups.setdefault(_group(s), []).append(s)
        circular = any(len(g) > 1 for g in groups.values())
        out: dict[str, Any] = {
            "circular_accuracy": _circular(groups.values()) if circular else None,
            "vanilla_accuracy": _vanilla(groups.values()),
            "categories": _by(groups, lambda s: s.category, circular),
            "l2_categories": _by(groups, lambda s: s.meta.get("l2_category"), circular),
            "n_questions": len(groups),
            "n_items": len(scored),
            **status_counts(scored),
        }
        if not circular:
            out["circular_note"] = NO_CIRCULAR_NOTE
        return out


def _group(s: Scored) -> int:
    if "group" in s.meta:
        return int(s.meta["group"])
    return int(s.id) % CIRCULAR_OFFSET


def _pass(s: Scored) -> int:
    if "pass" in s.meta:
        return int(s.meta["pass"])
    return int(s.id) // CIRCULAR_OFFSET


def _circular(groups: Any) -> float | None:
    groups = list(groups)
    return sum(all(s.correct for s in g) for g in groups) / len(groups) if groups else None


def _vanilla(groups: Any) -> float | None:
    firsts = [s for g in groups for s in g if _pass(s) == 0]
    return sum(s.correct for s in firsts) / len(firsts) if firsts else None


def _by(groups: dict[int, list[Scored]], key: Any, circular: bool) -> dict[str, dict[str, Any]]:
    """Per category: a question's category is that of its first pass ("uncategorized" if none)."""
    buckets: dict[str, list[list[Scored]]] = {}
    for g in groups.values():
        first = min(g, key=_pass)
        buckets.setdefault(key(first) or "uncategorized", []).append(g)
    return {name: {"circular_accuracy": _circular(gs) if circular else None,
                   "vanilla_accuracy": _vanilla(gs), "n": len(gs)}
            for name, gs in sorted(buckets.items())}
