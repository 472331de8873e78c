"""A synthetic multilingual VL task for smoke-scale ablations: a POSITIVE CONTROL, made entirely by babelvl.

Every question names a colour in one language and asks whether it is a warm colour ("Le vert est-il une
couleur chaude ?"); the answer is that language's yes or no (red and yellow are warm, green and blue are not).
The image (one shape in a colour drawn independently of the question) carries no information about the
answer: only the colour WORD does, and it exists only in that language (wording in
``train/synthetic/<lang>.yaml``; yes/no words and the yes/no instruction from the language packs: data, not
code). So a model trained on English only must answer the other languages at chance, while a model trained on
every language can answer all of them: an ablation that cannot see this gap cannot see anything. (A first
version asked whether the shape HAS the named colour, which needs the image too; tiny random-weight models did
not learn that binding in minutes of CPU training, so the control could not tell working machinery from a
model that learns nothing.)

Training data is written in the Multi-PixMo AskModelAnything layout (``<lang>/shard-00000.parquet`` plus
images named by sha256), the user turn exactly the prompt the harness builds for MME; evaluation data in MME's
schema (two questions per image, one answered yes and one no, so acc+ needs both), one folder per language
with the SAME images and ids in every language, so the mixture builder, the harness and the paired statistics
read them like real data.
"""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

import yaml
from PIL import Image, ImageDraw

from babelvl.errors import InputError

DATA_DIR = Path(__file__).parent / "synthetic"
RGB = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220), "yellow": (235, 200, 30)}


def words(language: str) -> dict:
    path = DATA_DIR / f"{language}.yaml"
    if not path.exists():
        raise InputError(f"the synthetic task has no wording for '{language}' (add {path.name})", file=str(path))
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def draw(shape: str, color: str, seed: int, size: int = 64) -> bytes:
    rng = random.Random(seed)
    image = Image.new("RGB", (size, size), (245, 245, 240))
    d = ImageDraw.Draw(image)
    r = rng.randint(size // 5, size // 3)
    cx, cy = rng.randint(r, size - r), rng.randint(r, size - r)
    box = [cx - r, cy - r, cx + r, cy + r]
    if shape == "circle":
        d.ellipse(box, fill=RGB[color])
    elif shape == "square":
        d.rectangle(box, fill=RGB[color])
    else:
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=RGB[color])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _cases(n: int, seed: int) -> list[tuple[str, str, int]]:
    rng = random.Random(seed)
    return [(rng.choice(["circle", "square", "triangle"]), rng.choice(list(RGB)), rng.randrange(10**9)) for _ in range(n)]


WARM = ("red", "yellow")
COOL = ("green", "blue")


def question(language: str, color: str) -> str:
    """The question with the pack's yes/no instruction, built by the MME benchmark itself."""
    from babelvl.benchmarks.base import Item
    from babelvl.benchmarks.registry import get_benchmark
    from babelvl.languages import load_language

    item = Item("mme", language, "x#0", 0, _plain_question(language, color), "yes", images=[], category="color")
    return get_benchmark("mme").prompt(item, load_language(language))


def _plain_question(language: str, color: str) -> str:
    w = words(language)
    return w["is_warm"].format(color=w["color_names"][color])


def answer(language: str, yes: bool) -> str:
    """The pack's first yes (or no) word, capitalised as an answer starts."""
    from babelvl.languages import load_language

    pack = load_language(language)
    word = (pack.yes if yes else pack.no)[0]
    return word[:1].upper() + word[1:]


def write_training_set(out: Path, languages: list[str], *, per_language: int, seed: int = 0) -> Path:
    """AMA-layout folders, one per language, with DIFFERENT images per language (no cross-language copies).

    The colour asked about cycles through the four colours, so yes and no are balanced.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    for index, language in enumerate(languages):
        rows = []
        asked_order = list(RGB)
        random.Random(seed * 1000 + index).shuffle(asked_order)
        for i, (shape, color, s) in enumerate(_cases(per_language, seed * 1000 + index)):
            png = draw(shape, color, s)
            sha = hashlib.sha256(png).hexdigest()
            (images / f"{sha}.png").write_bytes(png)
            asked = asked_order[i % 4]
            rows.append({"image_url": f"synthetic://{sha}.png", "image_sha256": sha,
                         "question": question(language, asked), "answer": answer(language, asked in WARM),
                         "source_id": f"{sha[:16]}-{i}", "source_row": i, "language": language})
        (out / language).mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows), out / language / "shard-00000.parquet")
    return out


def write_eval_set(out: Path, languages: list[str], *, n: int, seed: int = 99) -> Path:
    """MME-schema folders (one per language): ``n`` images, each with a warm-colour question (yes) and a
    cool-colour one (no), the same images, colours and ids in every language."""
    from babelvl.testing.fixtures import write_mme

    cases = _cases(n, seed)
    rng = random.Random(seed)
    asked = [(rng.choice(WARM), rng.choice(COOL)) for _ in cases]
    for language in languages:
        rows = []
        for i, (shape, color, s) in enumerate(cases):
            png = draw(shape, color, s)
            for colour, gold in ((asked[i][0], "Yes"), (asked[i][1], "No")):
                rows.append({"question_id": f"synthetic/{i:04d}.png", "category": "color", "image": png,
                             "question": _plain_question(language, colour), "answer": gold})
        write_mme(out / language / "test.parquet", rows)
    return out
