"""POPE (``lmms-lab/POPE``, default config, split test): object-hallucination yes/no questions.

Schema (all strings): id, question_id, question, answer ("yes"/"no"), image_source, image, category
(adversarial / popular / random). The default config pools the three splits (3000 rows each, built from
the original ``coco_pope_{split}.json`` files, whose question_id runs 1..3000 in every split), so
question_id alone is not unique: an item's id is ``{category}-{question_id}``, for every copy of the data
(a subset must not switch id schemes). A repeated id is rejected.

Prompt: lmms-eval's ``pope_doc_to_text``, the question then the short-answer instruction ("Answer the
question using a single word or phrase." in English) from the pack.

Metrics per split present and overall, positive class = yes, as POPE's ``evaluate.py``: accuracy,
precision = TP / (TP + FP), recall = TP / (TP + FN), F1, yes_ratio = share of "yes" predictions. An
unparseable (or missing, or refused) prediction is wrong and counts as "not yes" (a false negative when
the gold is yes); POPE's script instead reads any answer without "no"/"not" as yes, and lmms-eval leaves
such answers out of recall's denominator and computes yes_ratio from the gold answers (always 0.5 on
POPE): the ``lmms-eval`` profile reproduces that with :func:`lmms_eval_binary_metrics`. Precision with no yes prediction is 0.0 (sklearn's ``zero_division=0``), and F1 is 0.0 when
precision + recall is 0.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from babelvl.benchmarks import normalise_yes_no, status_counts, text_or_none, yes_no_words
from babelvl.benchmarks.base import Benchmark, Item, Rejected, Scored
from babelvl.data.images import image_bytes
from babelvl.data.loading import iter_rows, require_columns
from babelvl.errors import InputError
from babelvl.languages import LanguagePack

SPLITS = ("adversarial", "popular", "random")


def binary_metrics(scored: Sequence[Scored]) -> dict[str, Any]:
    """accuracy, precision, recall, f1, yes_ratio and n with "yes" as the positive class."""
    tp = sum(s.answer == "yes" and s.prediction == "yes" for s in scored)
    fp = sum(s.answer == "no" and s.prediction == "yes" for s in scored)
    fn = sum(s.answer == "yes" and s.prediction != "yes" for s in scored)
    n = len(scored)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": sum(s.correct for s in scored) / n if n else None, "precision": precision,
            "recall": recall, "f1": f1, "yes_ratio": (tp + fp) / n if n else None, "n": n}


def lmms_eval_binary_metrics(scored: Sequence[Scored]) -> dict[str, Any]:
    """lmms-eval's POPE aggregation (``lmms_eval/tasks/pope/utils.py`` @ 75571cf, ``pope_aggregate_*``).

    Accuracy and precision as :func:`binary_metrics`; recall counts a false negative only when the
    answer reads exactly "no" (an answer that is neither yes nor no leaves recall's denominator), and
    yes_ratio is the share of "yes" among the GOLD answers, not the predictions.
    """
    out = binary_metrics(scored)
    tp = sum(s.answer == "yes" and s.prediction == "yes" for s in scored)
    fn = sum(s.answer == "yes" and s.prediction == "no" for s in scored)
    recall = tp / (tp + fn) if tp + fn else 0.0
    precision = out["precision"]
    gold_yes = sum(s.answer == "yes" for s in scored)
    out.update(recall=recall, f1=2 * precision * recall / (precision + recall) if precision + recall else 0.0,
               yes_ratio=gold_yes / len(scored) if scored else 0)
    return out


class POPE(Benchmark):
    name = "pope"
    kind = "yesno"
    hub_id = "lmms-lab/POPE"
    config = None
    split = "test"
    license = "MIT (POPE, RUCAIBox); images from COCO val2014 (CC BY 4.0)"
    required_columns = ("question_id", "question", "answer", "category", "image")
    translated_hub_id: str | None = None

    def iter_items(self, rows: Any, language: str, source: str) -> Iterator[Item | Rejected]:
        require_columns(rows, self.required_columns, file=source, benchmark=self.name)
        words = yes_no_words(language)
        seen: set[str] = set()
        for row, record in iter_rows(rows):
            category = text_or_none(record.get("category"))
            qid = text_or_none(record.get("question_id"))
            item_id = f"{category}-{qid}" if category and qid else None
            try:
                if item_id in seen:
                    raise InputError(f"duplicate item id '{item_id}'", file=source, row=row,
                                     field="question_id")
                item = self._item(record, row, language, source, item_id, category, qid, words)
            except InputError as exc:
                yield Rejected(self.name, language, row, exc.field, exc.reason, file=source, id=item_id)
                continue
            seen.add(item.id)
            yield item

    def _item(self, record: dict[str, Any], row: int, language: str, source: str, item_id: str | None,
              category: str | None, qid: str | None, words: Any) -> Item:
        if category is None:
            raise InputError("empty category", file=source, row=row, field="category")
        if qid is None or item_id is None:
            raise InputError("empty question_id", file=source, row=row, field="question_id")
        question = text_or_none(record.get("question"))
        if question is None:
            raise InputError("empty question", file=source, row=row, field="question")
        answer = normalise_yes_no(record.get("answer"), words)
        if answer is None:
            raise InputError(f"answer {record.get('answer')!r} is not a yes/no word of '{language}' or "
                             "English", file=source, row=row, field="answer")
        images = [image_bytes(record.get("image"), file=source, row=row, field="image")]
        meta = {"question_id": qid, "image_source": text_or_none(record.get("image_source"))}
        return Item(self.name, language, item_id, row, question, answer, images=images,
                    category=category, meta=meta)

    def prompt(self, item: Item, pack: LanguagePack) -> str:
        return f"{item.question}\n{pack.instruction('short_answer')}"

    def metrics(self, scored: Sequence[Scored], aggregate: Any = binary_metrics) -> dict[str, Any]:
        """Per split and overall; ``aggregate`` is :func:`binary_metrics` or :func:`lmms_eval_binary_metrics`."""
        out: dict[str, Any] = {"overall": aggregate(scored)}
        present = sorted({s.category for s in scored if s.category},
                         key=lambda c: (c not in SPLITS, SPLITS.index(c) if c in SPLITS else 0, c))
        for split in present:
            out[split] = aggregate([s for s in scored if s.category == split])
        return {**out, **status_counts(scored)}
