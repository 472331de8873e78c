"""A synthetic multilingual VL task for smoke-scale ablations, made entirely by babelvl.

Images are drawn procedurally (one coloured shape on a plain background); the question asks for the
shape's colour in each language, with wording from ``train/synthetic/<lang>.yaml`` (data, not code).
Training data is written in the Multi-PixMo AskModelAnything layout (``<lang>/shard-00000.parquet``
plus images named by sha256), evaluation data in MMBench's schema with one folder per language, so the
mixture builder and the evaluation harness read them like real data.
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


def write_training_set(out: Path, languages: list[str], *, per_language: int, seed: int = 0) -> Path:
    """AMA-layout folders, one per language, with DIFFERENT images per language (no cross-language copies)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    for index, language in enumerate(languages):
        w = words(language)
        rows = []
        for shape, color, s in _cases(per_language, seed * 1000 + index):
            png = draw(shape, color, s)
            sha = hashlib.sha256(png).hexdigest()
            (images / f"{sha}.png").write_bytes(png)
            rows.append({"image_url": f"synthetic://{sha}.png", "image_sha256": sha,
                         "question": w["question"].format(shape=w["shapes"][shape]), "answer": w["colors"][color],
                         "source_id": sha[:16], "source_row": len(rows), "language": language})
        (out / language).mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows), out / language / "shard-00000.parquet")
    return out


def write_eval_set(out: Path, languages: list[str], *, n: int, seed: int = 99) -> Path:
    """MMBench-schema folders (one per language): the SAME images and ids in every language."""
    from babelvl.testing.fixtures import write_mmbench

    cases = _cases(n, seed)
    for language in languages:
        w = words(language)
        colors = list(RGB)
        rows = []
        for i, (shape, color, s) in enumerate(cases):
            order = colors[i % 4:] + colors[:i % 4]
            rows.append({"index": i, "question": w["question"].format(shape=w["shapes"][shape]), "hint": None,
                         "A": w["colors"][order[0]], "B": w["colors"][order[1]], "C": w["colors"][order[2]],
                         "D": w["colors"][order[3]], "answer": "ABCD"[order.index(color)], "category": "color",
                         "L2-category": "attribute", "source": "babelvl-synthetic", "split": "dev", "comment": None,
                         "image": draw(shape, color, s)})
        write_mmbench(out / language / "dev.parquet", rows)
    return out
