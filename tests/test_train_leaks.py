"""The evaluation-image leak check catches re-encoded, resized and slightly cropped copies, and only those.

Photographs come from matplotlib's bundled sample data (grace_hopper.jpg and its quarters, which are different
images of one photo); charts are drawn in one style with other data, the hardest "different image" case.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from babelvl.train import MixSource, build_mixture, eval_image_hashes, read_mixture
from babelvl.train.leaks import PHASH_THRESHOLD, EvalImageIndex


def encode(image: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


def chart(seed: int) -> Image.Image:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.bar(list("ABCDE"), rng.integers(1, 10, 5))
    ax.set_title(f"Sales {seed}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return Image.open(buf).convert("RGB")


@pytest.fixture(scope="module")
def images() -> dict[str, Image.Image]:
    from matplotlib import cbook

    hopper = Image.open(cbook.get_sample_data("grace_hopper.jpg")).convert("RGB")
    w, h = hopper.size
    out = {"hopper": hopper, "present": Image.open(cbook.get_sample_data("Minduka_Present_Blue_Pack.png")).convert("RGB")}
    for i, (x, y) in enumerate([(0, 0), (w // 2, 0), (0, h // 2), (w // 2, h // 2)]):
        out[f"quarter{i}"] = hopper.crop((x, y, x + w // 2, y + h // 2))
    for k in range(4):
        out[f"chart{k}"] = chart(k)
    return out


def variants(image: Image.Image) -> dict[str, bytes]:
    w, h = image.size
    crop = lambda l, t, r, b: image.crop((int(w * l), int(h * t), int(w * r), int(h * b)))  # noqa: E731
    return {"resized x0.5": encode(image.resize((w // 2, h // 2), Image.BICUBIC)),
            "resized x1.5": encode(image.resize((w * 3 // 2, h * 3 // 2), Image.BICUBIC)),
            "JPEG q=70": encode(image, "JPEG", quality=70),
            "resized x0.67 + JPEG q=70": encode(image.resize((w * 2 // 3, h * 2 // 3)), "JPEG", quality=70),
            "cropped 2% a side": encode(crop(0.02, 0.02, 0.98, 0.98)),
            "cropped 5% a side": encode(crop(0.05, 0.05, 0.95, 0.95)),
            "cropped 4%/2% unevenly": encode(crop(0.04, 0.02, 0.98, 0.96)),
            "cropped 5% off the left": encode(crop(0.05, 0, 1, 1))}


def test_reencoded_resized_and_cropped_benchmark_images_are_caught(images):
    index = EvalImageIndex()
    for name in ("hopper", "present", "chart0"):
        index.add(encode(images[name]))
    for name in ("hopper", "present", "chart0"):
        original = encode(images[name])
        exact = index.match(original)
        assert exact is not None and exact.how == "sha256" and exact.distance == 0
        for how, data in variants(images[name]).items():
            leak = index.match(data)
            assert leak is not None, f"{name} {how} passed the leak check"
            assert leak.how == "phash" and leak.eval_sha256 == exact.eval_sha256 and leak.distance <= PHASH_THRESHOLD


def test_different_images_are_not_flagged(images):
    index = EvalImageIndex()
    index.add(encode(images["quarter0"]))
    index.add(encode(images["chart0"]))
    for name in ("hopper", "present", "quarter1", "quarter2", "quarter3", "chart1", "chart2", "chart3"):
        assert index.match(encode(images[name])) is None, name
        assert index.match(encode(images[name], "JPEG", quality=70)) is None, name


def test_flat_and_tiny_images_match_by_sha256_only():
    index = EvalImageIndex()
    index.add(encode(Image.new("RGB", (64, 64), (200, 10, 10))))
    index.add(encode(Image.new("RGB", (8, 8), (0, 0, 0))))
    assert index.perceptual == 0
    assert index.match(encode(Image.new("RGB", (64, 64), (10, 10, 200)))) is None  # same (zero) pHash, other image
    assert index.match(encode(Image.new("RGB", (64, 64), (200, 10, 10)))).how == "sha256"


def test_mixture_drops_a_reencoded_benchmark_image_and_lists_it(images, tmp_path):
    bench = tmp_path / "bench.parquet"  # a benchmark file with its images embedded, as Hub Parquet stores them
    pq.write_table(pa.Table.from_pylist([{"question": "q", "image": {"bytes": encode(images["chart0"]), "path": None}}]),
                   bench)
    rows = []
    for i, name in enumerate(["chart0", "chart1", "quarter0", "quarter1"]):
        image = images[name].resize((images[name].width // 2, images[name].height // 2)) if i == 0 else images[name]
        rows.append({"id": f"c{i}", "image": {"bytes": encode(image, "JPEG", quality=70), "path": None},
                     "qa_pairs": [{"question": f"q{i}", "explanation": "", "answer": f"a{i}"}]})
    (tmp_path / "cosyn" / "en").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "cosyn" / "en" / "shard-00000.parquet")
    index = eval_image_hashes([str(bench)])
    assert len(index) == 1 and index.perceptual == 7  # the image and its 6 crops
    m = build_mixture([MixSource(str(tmp_path / "cosyn"), None, ("en",), 1.0)], budget=3, eval_images=index,
                      out_dir=tmp_path / "mix")
    assert m.leaked == {"cosyn": {"en": 1}} and m.leaked_by == {"sha256": 0, "phash": 1}
    assert m.leak_threshold == PHASH_THRESHOLD
    assert sorted(r["messages"][0]["content"] for r in read_mixture(tmp_path / "mix")) == ["q1", "q2", "q3"]
    leaks = [json.loads(l) for l in (tmp_path / "mix" / "leaks.jsonl").read_text().splitlines()]
    assert [(l["id"], l["how"]) for l in leaks] == [("cosyn/cosyn-en-c0", "phash")]
    assert leaks[0]["eval_sha256"] in index.sha256 and 0 <= leaks[0]["distance"] <= PHASH_THRESHOLD

    # the command line: a threshold below every distance keeps only exact matches, so all 4 examples are usable
    from babelvl.cli import main

    args = ["mix", "--data", str(tmp_path / "cosyn"), "--languages", "en", "--budget", "4",
            "--exclude-images-of", str(bench)]
    assert main(args + ["--leak-threshold", "-1", "--out", str(tmp_path / "cli-exact")]) == 0
    assert len(read_mixture(tmp_path / "cli-exact")) == 4
    assert main(args + ["--out", str(tmp_path / "cli-default")]) == 2  # 3 usable, the error names the drop


def test_a_translated_benchmark_folder_is_read_in_every_language(images, tmp_path):
    """``babelvl translate --out`` writes one subfolder per language: all of them are indexed."""
    for lang, name in (("en", "chart0"), ("fr", "chart1")):
        (tmp_path / "translated" / lang).mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist([{"question": "q", "image": {"bytes": encode(images[name]), "path": None}}]),
                       tmp_path / "translated" / lang / "dev-00000-of-00001.parquet")
    index = eval_image_hashes([str(tmp_path / "translated")])
    assert len(index) == 2
    assert index.match(encode(images["chart1"], "JPEG", quality=70)).how == "phash"
