"""Small benchmark datasets in the exact real schemas, written as Parquet, for tests of every module.

Column names, order and dtypes are those of the Hub sets (``babelvl.benchmarks.sample_suite.SCHEMAS``):
MMBench ``index`` int64 with A-D strings that may be None, ScienceQA ``choices`` list<string> and
``answer`` int8, AI2D ``answer`` string, images as the datasets ``Image`` feature. A row may leave out
any column (None is stored) and its image (one is drawn, different for every row); pass ``image=b"..."``
to store broken bytes, and ``drop=("answer",)`` to write a file without a column.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Iterable, Sequence

from PIL import Image, ImageDraw

from babelvl.benchmarks.sample_suite import parquet_bytes

PALETTE = [(220, 40, 40), (40, 160, 60), (40, 90, 220), (240, 200, 20), (130, 60, 180), (20, 20, 20)]


def draw_image(seed: int, size: int = 64) -> bytes:
    """A small PNG that differs for every seed (background colour, shape and position)."""
    image = Image.new("RGB", (size, size), PALETTE[seed % len(PALETTE)])
    d = ImageDraw.Draw(image)
    x = (seed * 7) % (size // 2)
    y = (seed * 13) % (size // 2)
    fill = PALETTE[(seed + 2) % len(PALETTE)]
    (d.ellipse if seed % 2 else d.rectangle)([x, y, x + size // 2, y + size // 2], fill=fill)
    d.point([(seed % size, (seed // size) % size)], fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _with_images(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for number, row in enumerate(rows):
        row = dict(row)
        if "image" not in row:
            row["image"] = draw_image(number)
        if isinstance(row["image"], (bytes, bytearray)):
            row["image"] = {"bytes": bytes(row["image"]), "path": None}
        out.append(row)
    return out


def write_benchmark(benchmark: str, path: str | Path, rows: Sequence[dict[str, Any]], *,
                    drop: Iterable[str] = ()) -> Path:
    """Write ``rows`` as ``path`` (Parquet) in ``benchmark``'s real schema; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(parquet_bytes(benchmark, _with_images(rows), drop=drop))
    return path


def write_mmbench(path: str | Path, rows: Sequence[dict[str, Any]] | None = None, **kw: Any) -> Path:
    return write_benchmark("mmbench", path, mmbench_rows() if rows is None else rows, **kw)


def write_scienceqa(path: str | Path, rows: Sequence[dict[str, Any]] | None = None, **kw: Any) -> Path:
    return write_benchmark("scienceqa", path, scienceqa_rows() if rows is None else rows, **kw)


def write_mme(path: str | Path, rows: Sequence[dict[str, Any]] | None = None, **kw: Any) -> Path:
    return write_benchmark("mme", path, mme_rows() if rows is None else rows, **kw)


def write_pope(path: str | Path, rows: Sequence[dict[str, Any]] | None = None, **kw: Any) -> Path:
    return write_benchmark("pope", path, pope_rows() if rows is None else rows, **kw)


def write_ai2d(path: str | Path, rows: Sequence[dict[str, Any]] | None = None, **kw: Any) -> Path:
    return write_benchmark("ai2d", path, ai2d_rows() if rows is None else rows, **kw)


WRITERS = {"mmbench": write_mmbench, "scienceqa": write_scienceqa, "mme": write_mme, "pope": write_pope,
           "ai2d": write_ai2d}


# --- default rows (valid; tests copy and break them) ----------------------------------------------

def mmbench_rows() -> list[dict[str, Any]]:
    """Originals only: a 4-option item with a hint, a 2-option and a 3-option item."""
    return [
        {"index": 0, "question": "What color is the square?", "hint": "Look at the shape.",
         "answer": "C", "A": "red", "B": "green", "C": "blue", "D": "yellow",
         "category": "attribute_recognition", "source": "fixture",
         "L2-category": "finegrained_perception (instance-level)", "comment": None, "split": "dev"},
        {"index": 1, "question": "Is the circle left of the square?", "hint": None, "answer": "A",
         "A": "yes", "B": "no", "C": None, "D": None, "category": "spatial_relationship",
         "source": "fixture", "L2-category": "finegrained_perception (cross-instance)",
         "comment": None, "split": "dev"},
        {"index": 2, "question": "What is written?", "hint": "nan", "answer": "B", "A": "CLOSED",
         "B": "OPEN", "C": "EXIT", "D": None, "category": "ocr", "source": "fixture",
         "L2-category": "finegrained_perception (instance-level)", "comment": None, "split": "dev"},
    ]


def mmbench_circular_rows() -> list[dict[str, Any]]:
    """Question 5 (2 options) with its rotated copy 1000005, as the Hub dev split stores them."""
    base = {"question": "Which is bigger?", "hint": None, "C": None, "D": None,
            "category": "attribute_comparison", "source": "fixture",
            "L2-category": "finegrained_perception (cross-instance)", "comment": None, "split": "dev"}
    return [{**base, "index": 5, "A": "left", "B": "right", "answer": "A"},
            {**base, "index": 1_000_005, "A": "right", "B": "left", "answer": "B"}]


def scienceqa_rows() -> list[dict[str, Any]]:
    base = {"task": "closed choice", "topic": "physics", "skill": "Magnets", "lecture": "",
            "solution": ""}
    return [
        {**base, "question": "Will these magnets attract or repel?", "choices": ["attract", "repel"],
         "answer": 0, "hint": "Two magnets.", "grade": "grade3", "subject": "natural science",
         "category": "Magnets"},
        {**base, "question": "Which direction is east?", "choices": ["north", "south", "east", "west"],
         "answer": 2, "hint": "", "grade": "grade2", "subject": "social science",
         "category": "Geography"},
        {**base, "question": "Which is warmer?", "choices": ["left", "middle", "right"], "answer": 1,
         "hint": "", "grade": "grade3", "subject": "natural science", "category": "Temperature"},
    ]


def mme_rows() -> list[dict[str, Any]]:
    suffix = " Please answer yes or no."
    return [
        {"question_id": "existence/1.png", "question": "Is there a dog?" + suffix, "answer": "Yes",
         "category": "existence"},
        {"question_id": "existence/1.png", "question": "Is there a cat?" + suffix, "answer": "No",
         "category": "existence"},
        {"question_id": "code_reasoning/7.png", "question": "Does the code print 3?" + suffix,
         "answer": "Yes", "category": "code_reasoning"},
        {"question_id": "code_reasoning/7.png", "question": "Does the code print 4?" + suffix,
         "answer": "No", "category": "code_reasoning"},
    ]


def pope_rows() -> list[dict[str, Any]]:
    rows = []
    for i, (category, qid, answer) in enumerate([("adversarial", "1", "yes"), ("adversarial", "2", "no"),
                                                 ("popular", "1", "yes"), ("popular", "2", "no"),
                                                 ("random", "1", "yes"), ("random", "2", "no")]):
        rows.append({"id": str(i), "question_id": qid, "question": f"Is there a thing {i} in the image?",
                     "answer": answer, "image_source": f"COCO_val2014_{i:012d}", "category": category})
    return rows


def ai2d_rows() -> list[dict[str, Any]]:
    return [
        {"question": "Which label shows the sun?", "options": ["A", "B", "C", "D"], "answer": "1"},
        {"question": "What comes after the egg?", "options": ["larva", "adult", "pupa"], "answer": "0"},
    ]


# --- language packs for tests ----------------------------------------------------------------------

TEST_PACKS: dict[str, dict[str, Any]] = {
    "en": {"name": "English", "yes": ["yes"], "no": ["no"],
           "instructions": {"multiple_choice":
                            "Answer with the option's letter from the given choices directly.",
                            "yes_no": "Please answer yes or no.",
                            "short_answer": "Answer the question using a single word or phrase."},
           "labels": {"hint": "Hint", "question": "Question", "options": "Options"}},
    "fr": {"name": "Français", "yes": ["oui"], "no": ["non"],
           "instructions": {"multiple_choice": "Répondez directement avec la lettre de l'option.",
                            "yes_no": "Veuillez répondre par oui ou par non.",
                            "short_answer": "Répondez par un seul mot ou une courte expression."},
           "labels": {"hint": "Indice", "question": "Question", "options": "Options"}},
    "de": {"name": "Deutsch", "yes": ["ja"], "no": ["nein"],
           "instructions": {"multiple_choice": "Antworte direkt mit dem Buchstaben der Option.",
                            "yes_no": "Bitte antworte mit Ja oder Nein.",
                            "short_answer": "Beantworte die Frage mit einem Wort oder einer Wortgruppe."},
           "labels": {"hint": "Hinweis", "question": "Frage", "options": "Optionen"}},
    "it": {"name": "Italiano", "yes": ["sì", "si"], "no": ["no"],
           "instructions": {"multiple_choice": "Rispondi direttamente con la lettera dell'opzione.",
                            "yes_no": "Rispondi sì o no.",
                            "short_answer": "Rispondi con una sola parola o frase."},
           "labels": {"hint": "Suggerimento", "question": "Domanda", "options": "Opzioni"}},
    "es": {"name": "Español", "yes": ["sí", "si"], "no": ["no"],
           "instructions": {"multiple_choice": "Responde directamente con la letra de la opción.",
                            "yes_no": "Por favor, responde sí o no.",
                            "short_answer": "Responde con una sola palabra o frase."},
           "labels": {"hint": "Pista", "question": "Pregunta", "options": "Opciones"}},
}


def write_missing_language_packs(folder: str | Path, codes: Iterable[str] = tuple(TEST_PACKS)) -> Path | None:
    """Write minimal packs for the codes babelvl cannot load yet; return the folder if any was written.

    Put the folder on ``BABELVL_LANGUAGE_PATH``: packs that exist keep precedence only if they are not
    written here, so tests run against the shipped packs whenever they are there.
    """
    import yaml

    from babelvl.errors import BabelvlError
    from babelvl.languages import load_language

    folder = Path(folder)
    written = False
    for code in codes:
        try:
            load_language(code)
            continue
        except BabelvlError:
            pass
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{code}.yaml").write_text(yaml.safe_dump({"code": code, **TEST_PACKS[code]},
                                                            allow_unicode=True), encoding="utf-8")
        written = True
    return folder if written else None
