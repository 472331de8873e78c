"""MME (``lmms-lab/MME``, split test): yes/no questions, two per image, scored as the official tool.

Schema: question_id (the image file, e.g. ``code_reasoning/0020.png``, shared by its two questions),
image, question (ending with " Please answer yes or no."; translated sets end with the translation),
answer ("Yes"/"No"; translated sets may read "Oui"/"Sì"), category.

Ids: ``{question_id}#{k}`` with k the order of appearance of that question_id (0, 1), stable across
languages because translations keep row order.

Metrics follow the MME eval tool (``eval_tool/calculation.py``; lmms-eval ``mme_aggregate_results`` is the
same): per category, acc = fraction of questions right, acc_plus = fraction of images with both questions
right, score = 100 * (acc + acc_plus); perception sums the 10 perception categories (max 2000),
cognition the 4 cognition ones (max 800). An unparseable answer is wrong, as "other" is there. The
official code asserts exactly two questions per image; babelvl instead keeps an image whose pair is
incomplete (a rejected or missing row): its present question counts in acc, and the image counts in
acc_plus's denominator as not-both-correct (both answers cannot be shown right). Such images are
counted in ``n_unpaired_images``.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, Sequence

from babelvl.benchmarks import normalise_yes_no, status_counts, text_or_none, yes_no_words
from babelvl.benchmarks.base import Benchmark, Item, Rejected, Scored
from babelvl.data.images import image_bytes
from babelvl.data.loading import iter_rows, require_columns
from babelvl.errors import InputError
from babelvl.languages import LanguagePack

PERCEPTION = ("existence", "count", "position", "color", "posters", "celebrity", "scene", "landmark",
              "artwork", "OCR")
COGNITION = ("commonsense_reasoning", "numerical_calculation", "text_translation", "code_reasoning")
MME_SUFFIX = "Please answer yes or no."
"""The suffix the English data carries (a property of the data, not prompt wording babelvl adds)."""


def _comparable(text: str) -> str:
    return re.sub(r"[\s.!?。:]+$", "", text.strip()).casefold()


class MME(Benchmark):
    name = "mme"
    kind = "yesno"
    hub_id = "lmms-lab/MME"
    config = None
    split = "test"
    license = "research use only (MME terms, BradyFU/Awesome-Multimodal-Large-Language-Models)"
    required_columns = ("question_id", "question", "answer", "category", "image")
    translated_hub_id: str | None = None

    def iter_items(self, rows: Any, language: str, source: str) -> Iterator[Item | Rejected]:
        require_columns(rows, self.required_columns, file=source, benchmark=self.name)
        words = yes_no_words(language)
        seen: dict[str, int] = {}
        for row, record in iter_rows(rows):
            qid = text_or_none(record.get("question_id"))
            item_id = None
            if qid is not None:
                k = seen.get(qid, 0)
                seen[qid] = k + 1
                item_id = f"{qid}#{k}"
            try:
                yield self._item(record, row, language, source, item_id, qid, words)
            except InputError as exc:
                yield Rejected(self.name, language, row, exc.field, exc.reason, file=source, id=item_id)

    def _item(self, record: dict[str, Any], row: int, language: str, source: str, item_id: str | None,
              qid: str | None, words: Any) -> Item:
        if item_id is None or qid is None:
            raise InputError("empty question_id", file=source, row=row, field="question_id")
        question = text_or_none(record.get("question"))
        if question is None:
            raise InputError("empty question", file=source, row=row, field="question")
        answer = normalise_yes_no(record.get("answer"), words)
        if answer is None:
            raise InputError(f"answer {record.get('answer')!r} is not a yes/no word of '{language}' or "
                             "English", file=source, row=row, field="answer")
        category = text_or_none(record.get("category"))
        if category is None:
            raise InputError("empty category", file=source, row=row, field="category")
        images = [image_bytes(record.get("image"), file=source, row=row, field="image")]
        return Item(self.name, language, item_id, row, question, answer, images=images,
                    category=category, meta={"image_id": qid})

    def prompt(self, item: Item, pack: LanguagePack) -> str:
        """The question as stored; the pack's yes/no instruction is appended only if it is missing."""
        instruction = pack.instruction("yes_no")
        ending = _comparable(item.question)
        if ending.endswith(_comparable(instruction)) or ending.endswith(_comparable(MME_SUFFIX)):
            return item.question
        return f"{item.question} {instruction}"

    def metrics(self, scored: Sequence[Scored]) -> dict[str, Any]:
        by_category: dict[str, dict[str, list[Scored]]] = {}
        for s in scored:
            image = str(s.meta.get("image_id") or s.id.rsplit("#", 1)[0])
            by_category.setdefault(s.category or "uncategorized", {}).setdefault(image, []).append(s)
        categories: dict[str, dict[str, Any]] = {}
        for name, images in sorted(by_category.items()):
            questions = [s for qs in images.values() for s in qs]
            acc = sum(s.correct for s in questions) / len(questions)
            acc_plus = sum(len(qs) >= 2 and all(s.correct for s in qs)
                           for qs in images.values()) / len(images)
            categories[name] = {"acc": acc, "acc_plus": acc_plus, "score": 100.0 * (acc + acc_plus),
                                "n": len(questions), "n_images": len(images),
                                "n_unpaired_images": sum(len(qs) < 2 for qs in images.values())}
        perception = _total(categories, PERCEPTION)
        cognition = _total(categories, COGNITION)
        return {"perception": perception, "cognition": cognition, "total": perception + cognition,
                "categories": categories, "n": len(scored), **status_counts(scored)}


def _total(categories: dict[str, dict[str, Any]], names: Sequence[str]) -> float:
    wanted = {n.casefold() for n in names}
    return sum(c["score"] for name, c in categories.items() if name.casefold() in wanted)
