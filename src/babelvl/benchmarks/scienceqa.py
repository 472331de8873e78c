"""ScienceQA-IMG (``lmms-lab/ScienceQA``, config ScienceQA-IMG, split test).

Schema: image, question, choices (list of strings), answer (0-based int; int8 on the Hub), hint, task,
grade, subject, topic, category, skill, lecture, solution. The data has no id column, so an item's id is
``sqa-{row}`` (translated sets keep row order, so ids match across languages). The gold letter is
``chr(65 + answer)``, as lmms-eval's ``sqa_doc_to_target``.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from babelvl.benchmarks import (items_by_row, accuracy, accuracy_by, as_int, lettered_options, option_lines, prompt_label,
                                status_counts, text_or_none)
from babelvl.benchmarks.base import Benchmark, Item, Rejected, Scored
from babelvl.data.images import image_bytes
from babelvl.errors import InputError
from babelvl.languages import LanguagePack

class ScienceQA(Benchmark):
    name = "scienceqa"
    kind = "choice"
    hub_id = "lmms-lab/ScienceQA"
    config = "ScienceQA-IMG"
    split = "test"
    license = "CC BY-NC-SA 4.0 (ScienceQA, lupantech)"
    required_columns = ("question", "choices", "answer", "image")
    translated_hub_id: str | None = None

    def iter_items(self, rows: Any, language: str, source: str) -> Iterator[Item | Rejected]:
        return items_by_row(self, rows, language, source, lambda row: f"sqa-{row}")

    def _item(self, record: dict[str, Any], row: int, language: str, source: str) -> Item:
        question = text_or_none(record.get("question"))
        if question is None:
            raise InputError("empty question", file=source, row=row, field="question")
        options = lettered_options(record.get("choices"), field="choices", file=source, row=row)
        answer = as_int(record.get("answer"))
        if answer is None or not 0 <= answer < len(options):
            raise InputError(f"answer {record.get('answer')!r} is not a 0-based index into "
                             f"{len(options)} choices", file=source, row=row, field="answer")
        images = [image_bytes(record.get("image"), file=source, row=row, field="image")]
        meta = {key: text_or_none(record.get(key)) for key in ("subject", "grade", "topic")}
        return Item(self.name, language, f"sqa-{row}", row, question, chr(65 + answer),
                    options=options, hint=text_or_none(record.get("hint")), images=images,
                    category=text_or_none(record.get("category")), meta=meta)

    def prompt(self, item: Item, pack: LanguagePack) -> str:
        """lmms-eval's default: context line (if any), question, lettered options, instruction."""
        parts = []
        if item.hint:
            label = prompt_label(pack, "context", prompt_label(pack, "hint", "Context"))
            parts.append(f"{label}: {item.hint}")
        parts += [item.question, option_lines(item.options), pack.instruction("multiple_choice")]
        return "\n".join(parts)

    def metrics(self, scored: Sequence[Scored]) -> dict[str, Any]:
        out: dict[str, Any] = {"accuracy": accuracy(scored), "n": len(scored)}
        keys = {"subjects": lambda s: s.meta.get("subject"), "grades": lambda s: s.meta.get("grade"),
                "categories": lambda s: s.category}
        for name, key in keys.items():
            table = accuracy_by(scored, key)
            if table or name == "subjects":
                out[name] = table
        return {**out, **status_counts(scored)}
