"""AI2D (``lmms-lab/ai2d`` and ``lmms-lab/ai2d-no-mask``, split test): science diagrams, multiple choice.

Schema: question, options (list of strings), answer (the 0-based index as a string, "0".."3"), image.
No id column: an item's id is ``ai2d-{row}`` (translated sets, e.g. ``VillanovaAI/multi-ai2d`` with one
config per language, keep row order). Prompt and target follow lmms-eval's ``ai2d`` "mcq" format:
question, lettered options, instruction; gold letter ``chr(65 + int(answer))``.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from babelvl.benchmarks import items_by_row, accuracy, lettered_options, option_lines, status_counts, text_or_none
from babelvl.benchmarks.base import Benchmark, Item, Rejected, Scored
from babelvl.data.images import image_bytes
from babelvl.errors import InputError
from babelvl.languages import LanguagePack


class AI2D(Benchmark):
    name = "ai2d"
    kind = "choice"
    hub_id = "lmms-lab/ai2d"
    config = None
    split = "test"
    license = "AI2D terms (Allen Institute for AI; research use)"
    required_columns = ("question", "options", "answer", "image")
    translated_hub_id: str | None = "VillanovaAI/multi-ai2d"

    def iter_items(self, rows: Any, language: str, source: str) -> Iterator[Item | Rejected]:
        return items_by_row(self, rows, language, source, lambda row: f"ai2d-{row}")

    def _item(self, record: dict[str, Any], row: int, language: str, source: str) -> Item:
        question = text_or_none(record.get("question"))
        if question is None:
            raise InputError("empty question", file=source, row=row, field="question")
        options = lettered_options(record.get("options"), field="options", file=source, row=row)
        raw = text_or_none(record.get("answer"))
        if raw is None or not raw.isdigit() or not 0 <= int(raw) < len(options):
            raise InputError(f"answer {record.get('answer')!r} is not a 0-based index into "
                             f"{len(options)} options", file=source, row=row, field="answer")
        images = [image_bytes(record.get("image"), file=source, row=row, field="image")]
        return Item(self.name, language, f"ai2d-{row}", row, question, chr(65 + int(raw)),
                    options=options, images=images)

    def prompt(self, item: Item, pack: LanguagePack) -> str:
        return "\n".join([item.question, option_lines(item.options), pack.instruction("multiple_choice")])

    def metrics(self, scored: Sequence[Scored]) -> dict[str, Any]:
        return {"accuracy": accuracy(scored), "n": len(scored), **status_counts(scored)}


class AI2DNoMask(AI2D):
    """The same questions on images whose text labels are not masked."""

    name = "ai2d_no_mask"
    hub_id = "lmms-lab/ai2d-no-mask"
    translated_hub_id = None
