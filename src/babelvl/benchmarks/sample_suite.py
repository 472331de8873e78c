"""The sample suite: a few original items per benchmark and language, with images babelvl draws itself.

It lets ``babelvl eval --suite sample`` run end to end offline, through the same loaders and benchmark
code as the real data: :func:`materialize_sample_suite` writes ``<out>/<benchmark>/<lang>.parquet`` in
the real Hub schemas (:data:`SCHEMAS`). Item definitions and drawings live here and are shared by every
language; the texts live in ``sample_suite/<lang>.yaml`` (a language is added by adding a file). Images
are simple shapes, colours, a chart, diagrams and printed words, so a real VLM has a fair chance.
Output is deterministic: the same code, texts and Pillow give the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml
from PIL import Image, ImageDraw, ImageFont

from babelvl.errors import InputError

DATA_DIR = Path(__file__).parent / "sample_suite"
SIZE = 336
MANIFEST_FILE = ".manifest.json"

# --- real schemas --------------------------------------------------------------------------------------

SCHEMAS: dict[str, list[tuple[str, str]]] = {
    # lmms-lab/MMBench (en/cn configs, dev split)
    "mmbench": [("index", "int64"), ("question", "string"), ("hint", "string"), ("answer", "string"),
                ("A", "string"), ("B", "string"), ("C", "string"), ("D", "string"),
                ("category", "string"), ("image", "image"), ("source", "string"),
                ("L2-category", "string"), ("comment", "string"), ("split", "string")],
    # lmms-lab/ScienceQA, config ScienceQA-IMG (answer is int8 on the Hub card)
    "scienceqa": [("image", "image"), ("question", "string"), ("choices", "list<string>"),
                  ("answer", "int8"), ("hint", "string"), ("task", "string"), ("grade", "string"),
                  ("subject", "string"), ("topic", "string"), ("category", "string"),
                  ("skill", "string"), ("lecture", "string"), ("solution", "string")],
    # lmms-lab/MME
    "mme": [("question_id", "string"), ("image", "image"), ("question", "string"),
            ("answer", "string"), ("category", "string")],
    # lmms-lab/POPE, default config
    "pope": [("id", "string"), ("question_id", "string"), ("question", "string"), ("answer", "string"),
             ("image_source", "string"), ("image", "image"), ("category", "string")],
    # lmms-lab/ai2d
    "ai2d": [("question", "string"), ("options", "list<string>"), ("answer", "string"),
             ("image", "image")],
}


def features_for(benchmark: str) -> Any:
    """``datasets.Features`` of a benchmark's real Hub schema."""
    import datasets

    list_type = getattr(datasets, "List", None) or datasets.Sequence

    def feature(dtype: str) -> Any:
        if dtype == "image":
            return datasets.Image()
        if dtype == "list<string>":
            return list_type(datasets.Value("string"))
        return datasets.Value(dtype)

    return datasets.Features({name: feature(dtype) for name, dtype in SCHEMAS[benchmark]})


def parquet_bytes(benchmark: str, rows: list[dict[str, Any]], *, drop: Iterable[str] = ()) -> bytes:
    """Rows (missing columns -> None) as Parquet bytes in the benchmark's real schema.

    Image cells may be encoded bytes or a ``{"bytes", "path"}`` dict; they are stored unchanged.
    """
    import datasets

    from babelvl.data.loading import quiet_progress

    dropped = set(drop)
    features = features_for(benchmark)
    columns = {name: [row.get(name) for row in rows] for name in features if name not in dropped}
    kept = datasets.Features({k: v for k, v in features.items() if k not in dropped})
    buffer = io.BytesIO()
    with quiet_progress():
        datasets.Dataset.from_dict(columns, features=kept).to_parquet(buffer)
    return buffer.getvalue()


# --- drawing ----------------------------------------------------------------------------------------

COLORS = {"red": (220, 40, 40), "green": (40, 160, 60), "blue": (40, 90, 220), "yellow": (240, 200, 20),
          "orange": (245, 140, 30), "purple": (130, 60, 180), "grey": (150, 150, 150),
          "brown": (120, 80, 40), "black": (20, 20, 20), "white": (255, 255, 255),
          "sky": (200, 230, 255), "darkgreen": (30, 110, 40)}


@lru_cache(maxsize=None)
def _font(size: int) -> Any:
    for name in ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
                 "DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def _font_id() -> str:
    font = _font(20)
    return str(getattr(font, "path", "pil-default"))


def _canvas(background: str = "white") -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("RGB", (SIZE, SIZE), COLORS[background])
    return image, ImageDraw.Draw(image)


def _circle(d: ImageDraw.ImageDraw, cx: float, cy: float, r: float, color: str) -> None:
    d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=COLORS[color], outline=COLORS["black"], width=2)


def _square(d: ImageDraw.ImageDraw, cx: float, cy: float, half: float, color: str) -> None:
    d.rectangle([cx - half, cy - half, cx + half, cy + half], fill=COLORS[color],
                outline=COLORS["black"], width=2)


def _triangle(d: ImageDraw.ImageDraw, cx: float, cy: float, r: float, color: str) -> None:
    points = [(cx, cy - r), (cx - r * 0.95, cy + r * 0.75), (cx + r * 0.95, cy + r * 0.75)]
    d.polygon(points, fill=COLORS[color], outline=COLORS["black"], width=2)


def _star(d: ImageDraw.ImageDraw, cx: float, cy: float, r: float, color: str) -> None:
    points = []
    for i in range(10):
        radius = r if i % 2 == 0 else r * 0.45
        angle = -math.pi / 2 + i * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    d.polygon(points, fill=COLORS[color], outline=COLORS["black"], width=2)


def _text(d: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, size: int,
          color: str = "black") -> None:
    d.text(xy, text, fill=COLORS[color], font=_font(size), anchor="mm")


def _arrow(d: ImageDraw.ImageDraw, start: tuple[float, float], end: tuple[float, float],
           color: str = "black", width: int = 5) -> None:
    d.line([start, end], fill=COLORS[color], width=width)
    angle = math.atan2(end[1] - start[1], end[0] - start[0])
    head = [end, (end[0] - 18 * math.cos(angle - 0.45), end[1] - 18 * math.sin(angle - 0.45)),
            (end[0] - 18 * math.cos(angle + 0.45), end[1] - 18 * math.sin(angle + 0.45))]
    d.polygon(head, fill=COLORS[color])


def _house(d: ImageDraw.ImageDraw, cx: float, base: float, w: float) -> None:
    d.rectangle([cx - w / 2, base - w * 0.8, cx + w / 2, base], fill=COLORS["orange"],
                outline=COLORS["black"], width=2)
    d.polygon([(cx - w * 0.62, base - w * 0.8), (cx + w * 0.62, base - w * 0.8), (cx, base - w * 1.35)],
              fill=COLORS["red"], outline=COLORS["black"], width=2)
    d.rectangle([cx - w * 0.12, base - w * 0.4, cx + w * 0.12, base], fill=COLORS["brown"])


def _tree(d: ImageDraw.ImageDraw, cx: float, base: float, h: float) -> None:
    d.rectangle([cx - h * 0.07, base - h * 0.45, cx + h * 0.07, base], fill=COLORS["brown"])
    _circle(d, cx, base - h * 0.68, h * 0.3, "darkgreen")


def _sun(d: ImageDraw.ImageDraw, cx: float, cy: float, r: float) -> None:
    for i in range(12):
        a = i * math.pi / 6
        d.line([(cx + r * 1.2 * math.cos(a), cy + r * 1.2 * math.sin(a)),
                (cx + r * 1.6 * math.cos(a), cy + r * 1.6 * math.sin(a))], fill=COLORS["orange"], width=4)
    _circle(d, cx, cy, r, "yellow")


def _car(d: ImageDraw.ImageDraw, cx: float, base: float, w: float) -> None:
    d.rectangle([cx - w / 2, base - w * 0.35, cx + w / 2, base - w * 0.12], fill=COLORS["blue"],
                outline=COLORS["black"], width=2)
    d.polygon([(cx - w * 0.28, base - w * 0.35), (cx - w * 0.15, base - w * 0.55),
               (cx + w * 0.2, base - w * 0.55), (cx + w * 0.32, base - w * 0.35)],
              fill=COLORS["blue"], outline=COLORS["black"], width=2)
    for x in (cx - w * 0.28, cx + w * 0.28):
        _circle(d, x, base - w * 0.1, w * 0.11, "black")


def _ground(d: ImageDraw.ImageDraw) -> None:
    d.rectangle([0, SIZE * 0.78, SIZE, SIZE], fill=COLORS["green"])


def _magnets(left: str, right: str) -> Image.Image:
    """Two bar magnets side by side; ``left``/``right`` give pole order, e.g. "NS"."""
    image, d = _canvas()
    for x0, poles in ((28, left), (182, right)):
        for i, pole in enumerate(poles):
            color = "red" if pole == "N" else "blue"
            d.rectangle([x0 + i * 63, 138, x0 + (i + 1) * 63, 198], fill=COLORS[color],
                        outline=COLORS["black"], width=2)
            _text(d, (x0 + i * 63 + 31, 168), pole, 34, "white")
    return image


def _thermometer(d: ImageDraw.ImageDraw, cx: float, level: float) -> None:
    d.rounded_rectangle([cx - 16, 40, cx + 16, 270], radius=16, fill=COLORS["white"],
                        outline=COLORS["black"], width=3)
    _circle(d, cx, 282, 28, "red")
    d.rectangle([cx - 8, 270 - level * 220, cx + 8, 272], fill=COLORS["red"])
    for i in range(11):
        y = 270 - i * 22
        d.line([(cx + 18, y), (cx + 30, y)], fill=COLORS["black"], width=2)


def _labelled(d: ImageDraw.ImageDraw, target: tuple[float, float], label_at: tuple[float, float],
              label: str) -> None:
    d.line([target, label_at], fill=COLORS["black"], width=2)
    _circle(d, label_at[0], label_at[1], 17, "white")
    _text(d, label_at, label, 22)


def draw(name: str) -> Image.Image:
    """One drawing of the suite by name (every item refers to one)."""
    image, d = _canvas()
    c = SIZE / 2
    if name == "square_blue":
        _square(d, c, c, 90, "blue")
    elif name == "circle_left_triangle_right":
        _circle(d, 85, c, 55, "red")
        _triangle(d, 250, c, 60, "green")
    elif name == "sign_open":
        d.rounded_rectangle([40, 110, 296, 226], radius=14, fill=COLORS["black"])
        _text(d, (c, 168), "OPEN", 64, "white")
    elif name == "circles_big_small":
        _circle(d, 105, c, 80, "orange")
        _circle(d, 255, c, 35, "orange")
    elif name == "bar_chart":
        d.line([(40, 300), (310, 300)], fill=COLORS["black"], width=3)
        d.line([(40, 300), (40, 30)], fill=COLORS["black"], width=3)
        for i, (color, height) in enumerate((("red", 120), ("blue", 200), ("green", 160), ("yellow", 250))):
            x = 60 + i * 62
            d.rectangle([x, 300 - height, x + 44, 300], fill=COLORS[color], outline=COLORS["black"], width=2)
    elif name == "star_top_right":
        d.line([(c, 10), (c, SIZE - 10)], fill=COLORS["grey"], width=2)
        d.line([(10, c), (SIZE - 10, c)], fill=COLORS["grey"], width=2)
        _star(d, 250, 85, 50, "yellow")
    elif name == "house":
        _ground(d)
        _house(d, c, SIZE * 0.8, 170)
    elif name == "magnets_attract":
        return _magnets("NS", "NS")
    elif name == "magnets_repel":
        return _magnets("SN", "NS")
    elif name == "compass_east":
        _circle(d, c, c, 120, "white")
        _text(d, (c, 30), "N", 40)
        d.line([(c, 70), (c, 266)], fill=COLORS["grey"], width=2)
        d.line([(70, c), (266, c)], fill=COLORS["grey"], width=2)
        _arrow(d, (c - 80, c), (c + 100, c), "red", 8)
    elif name == "thermometers":
        _thermometer(d, 110, 0.85)
        _thermometer(d, 226, 0.25)
    elif name == "circle_red":
        _circle(d, c, c, 90, "red")
    elif name == "three_squares":
        for x in (70, 168, 266):
            _square(d, x, c, 40, "blue")
    elif name == "triangle_green":
        _triangle(d, c, c + 10, 110, "green")
    elif name == "square_above_circle":
        _square(d, c, 85, 55, "blue")
        _circle(d, c, 250, 55, "yellow")
    elif name == "word_babel":
        _text(d, (c, c), "BABEL", 76)
    elif name == "sum_3_4":
        _text(d, (c, c), "3 + 4 = ?", 64)
    elif name == "scene_house_tree_sun":
        _ground(d)
        _sun(d, 270, 70, 32)
        _house(d, 110, SIZE * 0.8, 130)
        _tree(d, 255, SIZE * 0.8, 190)
    elif name == "scene_car_sun":
        _ground(d)
        _sun(d, 70, 70, 32)
        _car(d, 190, SIZE * 0.82, 210)
    elif name == "scene_house_tree":
        _ground(d)
        _tree(d, 80, SIZE * 0.8, 200)
        _house(d, 230, SIZE * 0.8, 140)
    elif name == "solar_system":
        image, d = _canvas("black")
        _circle(d, 70, c, 60, "yellow")
        _circle(d, 220, c, 28, "blue")
        _circle(d, 285, c - 60, 11, "grey")
        for (tx, ty), (lx, ly), label in (((70, c + 60), (70, 300), "1"), ((220, c + 28), (220, 300), "2"),
                                           ((285, c - 49), (285, 300), "3")):
            d.line([(tx, ty), (lx, ly)], fill=COLORS["white"], width=2)
            _circle(d, lx, ly, 17, "white")
            _text(d, (lx, ly), label, 22)
    elif name == "shape_flow":
        _circle(d, 55, c, 35, "red")
        _arrow(d, (95, c), (130, c))
        _square(d, 168, c, 32, "blue")
        _arrow(d, (205, c), (240, c))
        _triangle(d, 282, c + 5, 40, "green")
    elif name == "plant":
        d.rectangle([0, 230, SIZE, SIZE], fill=COLORS["brown"])
        d.line([(c, 120), (c, 230)], fill=COLORS["darkgreen"], width=8)
        d.ellipse([c, 160, c + 60, 190], fill=COLORS["green"], outline=COLORS["black"])
        for i in range(6):
            a = i * math.pi / 3
            _circle(d, c + 28 * math.cos(a), 95 + 28 * math.sin(a), 18, "red")
        _circle(d, c, 95, 14, "yellow")
        for dx in (-30, -10, 10, 30):
            d.line([(c, 230), (c + dx, 290)], fill=COLORS["white"], width=4)
        _labelled(d, (c + 40, 80), (300, 40), "1")
        _labelled(d, (c + 50, 175), (300, 175), "2")
        _labelled(d, (c - 4, 200), (60, 150), "3")
        _labelled(d, (c - 25, 280), (60, 300), "4")
    elif name == "layers":
        for i, (color, label) in enumerate((("yellow", "A"), ("orange", "B"), ("brown", "C"))):
            top = 60 + i * 75
            d.rectangle([60, top, 276, top + 75], fill=COLORS[color], outline=COLORS["black"], width=2)
            _text(d, (305, top + 37), label, 30)
    else:
        raise KeyError(f"no drawing named {name!r}")
    return image


@lru_cache(maxsize=None)
def drawing_png(name: str) -> bytes:
    buffer = io.BytesIO()
    draw(name).save(buffer, format="PNG")
    return buffer.getvalue()


# --- item definitions (shared by all languages; texts come from the YAML files) ----------------------

MMBENCH = [  # key, drawing, answer letter, category, L2-category
    ("square_color", "square_blue", "C", "attribute_recognition", "finegrained_perception (instance-level)"),
    ("left_shape", "circle_left_triangle_right", "B", "spatial_relationship",
     "finegrained_perception (cross-instance)"),
    ("sign_word", "sign_open", "B", "ocr", "finegrained_perception (instance-level)"),
    ("larger_circle", "circles_big_small", "A", "attribute_comparison",
     "finegrained_perception (cross-instance)"),
    ("tallest_bar", "bar_chart", "D", "structuralized_imagetext_understanding", "logic_reasoning"),
    ("star_position", "star_top_right", "B", "object_localization",
     "finegrained_perception (instance-level)"),
    ("drawing_topic", "house", "A", "image_topic", "coarse_perception"),
]
SCIENCEQA = [  # key, drawing, answer index, subject, topic, category, grade
    ("magnets_attract", "magnets_attract", 0, "natural science", "physics", "Magnets", "grade3"),
    ("magnets_repel", "magnets_repel", 1, "natural science", "physics", "Magnets", "grade4"),
    ("arrow_direction", "compass_east", 2, "social science", "geography", "Cardinal directions", "grade2"),
    ("warmer_thermometer", "thermometers", 0, "natural science", "physics", "Temperature", "grade5"),
]
MME = [  # question_id, drawing, category, ((question key, answer is yes), ...)
    ("existence/0001.png", "circle_red", "existence", (("circle", True), ("triangle", False))),
    ("count/0001.png", "three_squares", "count", (("five", False), ("three", True))),
    ("color/0001.png", "triangle_green", "color", (("green", True), ("red", False))),
    ("position/0001.png", "square_above_circle", "position", (("above", True), ("below", False))),
    ("OCR/0001.png", "word_babel", "OCR", (("babel", True), ("tower", False))),
    ("numerical_calculation/0001.png", "sum_3_4", "numerical_calculation",
     (("seven", True), ("eight", False))),
]
POPE = [  # category, question_id, drawing, question key, gold
    ("adversarial", "1", "scene_house_tree", "house", "yes"),
    ("adversarial", "2", "scene_house_tree", "sun", "no"),
    ("adversarial", "3", "scene_house_tree", "tree", "yes"),
    ("adversarial", "4", "scene_house_tree", "car", "no"),
    ("popular", "1", "scene_car_sun", "car", "yes"),
    ("popular", "2", "scene_car_sun", "tree", "no"),
    ("popular", "3", "scene_car_sun", "sun", "yes"),
    ("popular", "4", "scene_car_sun", "house", "no"),
    ("random", "1", "scene_house_tree_sun", "sun", "yes"),
    ("random", "2", "scene_house_tree_sun", "dog", "no"),
    ("random", "3", "scene_house_tree_sun", "house", "yes"),
    ("random", "4", "scene_house_tree_sun", "car", "no"),
]
AI2D = [  # key, drawing, answer index
    ("sun_label", "solar_system", 1),
    ("after_square", "shape_flow", 1),
    ("roots_label", "plant", 3),
    ("bottom_layer", "layers", 2),
]


def _img(name: str) -> dict[str, Any]:
    return {"bytes": drawing_png(name), "path": f"{name}.png"}


def _texts(language: str) -> dict[str, Any]:
    path = DATA_DIR / f"{language}.yaml"
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read sample suite texts: {exc}", file=str(path)) from None


def _rows_mmbench(t: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for index, (key, drawing, answer, category, l2) in enumerate(MMBENCH):
        text = t["mmbench"][key]
        options = dict(zip("ABCD", text["options"]))
        rows.append({"index": index, "question": text["question"], "hint": text.get("hint"),
                     "answer": answer, **options, "category": category, "image": _img(drawing),
                     "source": "babelvl-sample", "L2-category": l2, "comment": None, "split": "dev"})
    return rows


def _rows_scienceqa(t: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key, drawing, answer, subject, topic, category, grade in SCIENCEQA:
        text = t["scienceqa"][key]
        rows.append({"image": _img(drawing), "question": text["question"], "choices": text["choices"],
                     "answer": answer, "hint": text.get("hint") or "", "task": "closed choice",
                     "grade": grade, "subject": subject, "topic": topic, "category": category,
                     "skill": category, "lecture": "", "solution": ""})
    return rows


def _rows_mme(t: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for qid, drawing, category, questions in MME:
        for key, is_yes in questions:
            question = f"{t['mme'][qid.split('/')[0]][key]} {t['yes_no_suffix']}"
            rows.append({"question_id": qid, "image": _img(drawing), "question": question,
                         "answer": t["answers"]["yes" if is_yes else "no"], "category": category})
    return rows


def _rows_pope(t: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": str(i), "question_id": qid, "question": t["pope"][key], "answer": gold,
             "image_source": f"babelvl_{drawing}", "image": _img(drawing), "category": category}
            for i, (category, qid, drawing, key, gold) in enumerate(POPE)]


def _rows_ai2d(t: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"question": t["ai2d"][key]["question"], "options": t["ai2d"][key]["options"],
             "answer": str(answer), "image": _img(drawing)} for key, drawing, answer in AI2D]


BUILDERS: dict[str, Callable[[dict[str, Any]], list[dict[str, Any]]]] = {
    "mmbench": _rows_mmbench, "scienceqa": _rows_scienceqa, "mme": _rows_mme, "pope": _rows_pope,
    "ai2d": _rows_ai2d,
}


def sample_languages() -> list[str]:
    """Languages the suite has texts for (one YAML file each)."""
    return sorted(p.stem for p in DATA_DIR.glob("*.yaml"))


def sample_rows(benchmark: str, language: str) -> list[dict[str, Any]]:
    """The suite's rows for one benchmark and language, in the benchmark's real schema."""
    return BUILDERS[benchmark](_texts(language))


def _fingerprint() -> str:
    import datasets
    import PIL

    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path in sorted(DATA_DIR.glob("*.yaml")):
        digest.update(path.name.encode() + path.read_bytes())
    digest.update(f"{PIL.__version__}|{datasets.__version__}|{_font_id()}".encode())
    return digest.hexdigest()


def _sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def materialize_sample_suite(out_dir: str | Path) -> dict[tuple[str, str], Path]:
    """Write ``out_dir/<benchmark>/<lang>.parquet`` for every benchmark and language; return the paths.

    Idempotent: a manifest records a fingerprint of the code, texts and library versions plus each
    file's sha256; when both still match nothing is rebuilt, otherwise files are regenerated and only
    those whose bytes differ are rewritten (atomically).
    """
    from babelvl.io.files import write_atomic

    out = Path(out_dir)
    paths = {(b, lang): out / b / f"{lang}.parquet" for b in BUILDERS for lang in sample_languages()}
    fingerprint = _fingerprint()
    manifest_path = out / MANIFEST_FILE
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    if manifest.get("fingerprint") == fingerprint and all(
            manifest.get("files", {}).get(f"{b}/{lang}") == _sha256(p) for (b, lang), p in paths.items()):
        return paths
    files = {}
    for (benchmark, language), path in paths.items():
        data = parquet_bytes(benchmark, sample_rows(benchmark, language))
        if not path.is_file() or path.read_bytes() != data:
            write_atomic(path, data)
        files[f"{benchmark}/{language}"] = hashlib.sha256(data).hexdigest()
    write_atomic(manifest_path, json.dumps({"fingerprint": fingerprint, "files": files}, indent=1))
    return paths
