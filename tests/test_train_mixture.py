"""Matched-budget mixtures on tiny Multi-PixMo-shaped folders (AMA and Cap layouts), counts by hand."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from babelvl.errors import InputError
from babelvl.train import (
    MixSource,
    build_mixture,
    eval_image_hashes,
    load_examples,
    read_mixture,
)
from babelvl.train.conversations import DEFAULT_CAPTION_INSTRUCTION
from babelvl.train.mixture import estimate_tokens, largest_remainder

AMA_ROWS, CAP_ROWS = 16, 6
WORDS = {"en": "the", "fr": "le", "de": "der"}


def png(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (seed * 7 % 256, seed * 13 % 256, seed * 29 % 256)).save(buf, "PNG")
    return buf.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_shard(folder: Path, lang: str, rows: list[dict]) -> None:
    (folder / lang).mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), folder / lang / "shard-00000.parquet")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    """AMA in en/fr/de (16 rows, images by sha256) and Cap in en/fr (6 rows, images by URL basename).

    Translations share images, as in Multi-PixMo: row i shows the same image in every language.
    """
    root = tmp_path_factory.mktemp("train-data")
    images = root / "images"
    images.mkdir()
    for lang in ("en", "fr", "de"):
        rows = []
        for i in range(AMA_ROWS):
            data = png(i)
            (images / sha(data)).write_bytes(data)
            rows.append({"image_url": f"https://img.example/ama/{i}.jpg", "image_sha256": sha(data),
                         "question": f"q{i} {WORDS[lang]} " + "x" * i, "answer": f"a{i} {WORDS[lang]}",
                         "source_id": f"ama{i}", "source_row": i, "language": lang})
        write_shard(root / "ama", lang, rows)
    for lang in ("en", "fr"):
        rows = []
        for i in range(CAP_ROWS):
            data = png(100 + i)
            (images / f"cap{i}.png").write_bytes(data)
            rows.append({"image_url": f"https://img.example/cap/cap{i}.png", "caption": f"caption {i} {lang}",
                         "transcripts": ["t"], "source_id": f"cap{i}", "source_row": i, "language": lang})
        write_shard(root / "cap", lang, rows)
    return {"root": root, "ama": root / "ama", "cap": root / "cap", "images": images}


def multilingual(data, **kw) -> dict:
    return dict(sources=[MixSource(str(data["ama"]), "ama", ("en", "fr", "de"), 0.75, str(data["images"])),
                         MixSource(str(data["cap"]), None, ("en", "fr"), 0.25, str(data["images"]))],
                language_shares={"en": 0.5, "fr": 0.25, "de": 0.25}, **kw)


def english_only(data, **kw) -> dict:
    return dict(sources=[MixSource(str(data["ama"]), "ama", ("en",), 0.75, str(data["images"])),
                         MixSource(str(data["cap"]), "cap", ("en",), 0.25, str(data["images"]))], **kw)


def test_load_examples_layouts_and_caption_fallback(data):
    ama = load_examples(data["ama"], languages=["fr"], image_dir=data["images"])
    assert len(ama) == AMA_ROWS and ama[0].source == "ama" and ama[0].id == "ama-fr-ama0"
    assert ama[0].messages == [{"role": "user", "content": "q0 le"}, {"role": "assistant", "content": "a0 le"}]
    assert ama[3].read_image() == png(3)
    cap = load_examples(data["cap"], languages=["en"], image_dir=data["images"])
    assert cap[2].messages[0]["content"] == DEFAULT_CAPTION_INSTRUCTION  # shipped packs carry no train key
    assert cap[2].image_sha256 == sha(png(102)) and cap[2].image_file.endswith("cap2.png")


def test_missing_images_are_listed_before_anything_runs(data, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match=r"16 image\(s\) not found.*shard-00000.parquet row 0: https://img.example/ama/0.jpg"):
        load_examples(data["ama"], languages=["en"], image_dir=empty)
    with pytest.raises(InputError, match="no image folder given"):
        build_mixture([MixSource(str(data["cap"]), "cap", ("en",), 1.0)], budget=2, out_dir=tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_counts_follow_source_and_language_shares(data, tmp_path):
    m = build_mixture(budget=20, seed=1, out_dir=tmp_path, **multilingual(data))
    # cells: ama 0.75 x {en .5, fr .25, de .25}; cap 0.25 x {en .5, fr .25} renormalised to {2/3, 1/3}
    # exact 7.5, 3.75, 3.75, 3.33, 1.67 -> floors 7,3,3,3,1 (17); +1 to the 3 largest remainders
    assert m.counts == {"ama": {"en": 7, "fr": 4, "de": 4}, "cap": {"en": 3, "fr": 2}}
    assert m.total_examples == 20
    records = read_mixture(tmp_path)
    assert len(records) == 20
    assert {(r["source"], r["language"]) for r in records} == {("ama", "en"), ("ama", "fr"), ("ama", "de"),
                                                               ("cap", "en"), ("cap", "fr")}
    for r in records:  # every image referenced exists and is the image it claims to be
        assert sha((tmp_path / r["image"]).read_bytes()) == r["image_sha256"] and r["images"] == [r["image"]]
    assert len(list((tmp_path / "images").iterdir())) == len({r["image_sha256"] for r in records}) == m.images
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["seed"] == 1 and manifest["budget"] == 20 and manifest["babelvl_version"]
    assert manifest["sources"][0]["languages"] == ["en", "fr", "de"]


def test_english_only_and_multilingual_match_in_examples(data, tmp_path):
    en = build_mixture(budget=16, seed=0, out_dir=tmp_path / "en", **english_only(data))
    multi = build_mixture(budget=16, seed=0, out_dir=tmp_path / "multi", **multilingual(data))
    assert en.counts == {"ama": {"en": 12}, "cap": {"en": 4}}
    # exact 6, 3, 3, 2.67, 1.33 -> floors 6,3,3,2,1 (15); +1 to cap/en
    assert multi.counts == {"ama": {"en": 6, "fr": 3, "de": 3}, "cap": {"en": 3, "fr": 1}}
    assert en.total_examples == multi.total_examples == 16


def test_token_budget_matched_within_one_example(data, tmp_path):
    longest = max(estimate_tokens(e.messages) for folder, langs in (("ama", ["en", "fr", "de"]), ("cap", ["en", "fr"]))
                  for e in load_examples(data[folder], languages=langs, image_dir=data["images"]))
    budget = 60
    en = build_mixture(budget=budget, budget_unit="tokens", seed=0, out_dir=tmp_path / "en", **english_only(data))
    multi = build_mixture(budget=budget, budget_unit="tokens", seed=0, out_dir=tmp_path / "multi", **multilingual(data))
    for m in (en, multi):
        assert abs(m.total_tokens - budget) <= longest
        records = read_mixture(tmp_path / ("en" if m is en else "multi"))
        assert sum(estimate_tokens(r["messages"]) for r in records) == m.total_tokens
    assert abs(en.total_tokens - multi.total_tokens) <= longest


def test_same_seed_same_mixture_other_seed_other_mixture(data, tmp_path):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        build_mixture(budget=12, seed=seed, out_dir=tmp_path / name, **multilingual(data))
    a, b, c = ((tmp_path / n / "train.jsonl").read_text() for n in "abc")
    assert a == b and a != c


def test_eval_images_dropped_and_reported_or_refused(data, tmp_path):
    bench = tmp_path / "bench.parquet"
    pq.write_table(pa.Table.from_pylist([{"question": "q", "image": {"bytes": png(0), "path": None}},
                                         {"question": "q", "image": {"bytes": png(1), "path": "x.png"}}]), bench)
    leaked = eval_image_hashes([str(bench)])
    assert leaked.sha256 == {sha(png(0)), sha(png(1))} and leaked.perceptual == 0  # 4x4 flat images: exact only
    m = build_mixture(budget=24, seed=0, eval_images=leaked, out_dir=tmp_path / "drop",
                      **multilingual(data, on_leak="drop"))
    assert m.leaked == {"ama": {"en": 2, "fr": 2, "de": 2}, "cap": {"en": 0, "fr": 0}}
    assert m.total_examples == 24
    assert not leaked.sha256 & {r["image_sha256"] for r in read_mixture(tmp_path / "drop")}
    assert m.leaked_by == {"sha256": 6, "phash": 0}
    with pytest.raises(InputError, match=r"6 training example\(s\) show an evaluation image"):
        build_mixture(budget=4, seed=0, eval_images=leaked, out_dir=tmp_path / "refuse",
                      **multilingual(data, on_leak="refuse"))
    # dropping shrinks what is available: asking for all 16 en rows now fails, naming why
    with pytest.raises(InputError, match=r"source 'ama' language 'en' has 14 usable example\(s\) \(2 evaluation images dropped\)"):
        build_mixture([MixSource(str(data["ama"]), "ama", ("en",), 1.0, str(data["images"]))], budget=16,
                      eval_images=leaked, out_dir=tmp_path / "short")


def test_validation_images_never_in_train(data, tmp_path):
    m = build_mixture(budget=16, seed=2, validation_size=4, out_dir=tmp_path, **multilingual(data))
    train, val = read_mixture(tmp_path), read_mixture(tmp_path, "validation")
    assert len(val) == 4 and len(train) == m.total_examples == 16
    assert not {r["image_sha256"] for r in train} & {r["image_sha256"] for r in val}
    assert sum(v for langs in m.validation_counts.values() for v in langs.values()) == 4


@pytest.mark.parametrize("kwargs, message", [
    ({"budget": 100}, r"source 'ama' language 'en' has 16 usable example\(s\) but the mixture needs 37"),
    ({"budget": 10, "language_shares": {"en": 0.5, "fr": 0.3, "de": 0.3}}, "language shares sum to 1.1, not 1"),
    ({"budget": 10, "budget_unit": "words"}, "unknown budget unit 'words'"),
    ({"budget": 10, "language_shares": {"en": 0.5, "fr": 0.25, "de": 0.25, "it": 0.0}}, "no source has: it"),
    ({"budget": 0}, "budget must be positive"),
])
def test_bad_requests_fail_clearly(data, tmp_path, kwargs, message):
    args = multilingual(data)
    args.update(kwargs)
    with pytest.raises(InputError, match=message):
        build_mixture(out_dir=tmp_path / "m", **args)
    assert not (tmp_path / "m" / "train.jsonl").exists()


def test_source_shares_and_missing_language(data, tmp_path):
    with pytest.raises(InputError, match="source shares sum to 0.9"):
        build_mixture([MixSource(str(data["ama"]), "ama", ("en",), 0.9, str(data["images"]))], budget=2,
                      out_dir=tmp_path)
    with pytest.raises(InputError, match=r"no data for language 'it'.*languages with data: de, en, fr"):
        build_mixture([MixSource(str(data["ama"]), "ama", ("it",), 1.0, str(data["images"]))], budget=2,
                      out_dir=tmp_path)


def test_largest_remainder_sums_exactly():
    assert largest_remainder(10, {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}) == {"a": 4, "b": 3, "c": 3}
    assert sum(largest_remainder(997, {i: 1 / 7 for i in range(7)}).values()) == 997


def test_sources_without_a_share_split_what_is_left():
    from babelvl.train.mixture import parse_source_shares

    assert parse_source_shares(["a", "b:0.3"]) == [("a", pytest.approx(0.7)), ("b", 0.3)]
    assert parse_source_shares(["a", "b:0.3", "c"]) == [("a", pytest.approx(0.35)), ("b", 0.3),
                                                       ("c", pytest.approx(0.35))]
    assert parse_source_shares(["a", "b"]) == [("a", 0.5), ("b", 0.5)]
    assert parse_source_shares(["C:/data/ama:0.5", "hub/id:x"]) == [("C:/data/ama", 0.5), ("hub/id:x", 0.5)]
    with pytest.raises(InputError, match="sum to 1.2, leaving nothing for c"):
        parse_source_shares(["a:0.6", "b:0.6", "c"])
    with pytest.raises(InputError, match="sum to 1, leaving nothing for b"):
        parse_source_shares(["a:1", "b"])


def test_images_found_in_several_folders_the_fetch_index_and_the_source_folder(data, tmp_path):
    """Cap publishes no sha256: its fetched images are found through the fetch cache's url -> sha256 index."""
    from babelvl.pixmo.fetch import ImageFetcher
    from babelvl.testing.pixmo_fixtures import ImageServer

    cap = tmp_path / "cap"
    cache = cap / "images"  # where build-pixmo --fetch-images puts them: found without any --image-dir
    with ImageServer({f"cap{i}.png": png(100 + i) for i in range(CAP_ROWS)}) as server:
        write_shard(cap, "en", [{"image_url": server.url(f"cap{i}.png"), "caption": f"caption {i}",
                                 "transcripts": ["t"], "source_id": f"cap{i}"} for i in range(CAP_ROWS)])
        with ImageFetcher(cache) as fetcher:
            assert all(r.ok for r in fetcher.fetch_many([server.url(f"cap{i}.png") for i in range(CAP_ROWS)]))
    assert not list(cache.glob("cap*.png"))  # stored as <sha[:2]>/<sha>.img: the URL basename finds nothing
    examples = load_examples(cap, languages=["en"])
    assert [Path(e.image_file).suffix for e in examples] == [".img"] * CAP_ROWS
    assert [e.image_sha256 for e in examples] == [sha(png(100 + i)) for i in range(CAP_ROWS)]
    # two explicit folders: AMA images in one, nothing in the other
    empty = tmp_path / "empty"
    empty.mkdir()
    m = build_mixture([MixSource(str(data["ama"]), "ama", ("en",), 0.5, (str(empty), str(data["images"]))),
                       MixSource(str(cap), None, ("en",), 0.5)], budget=8, out_dir=tmp_path / "m")
    assert m.counts == {"ama": {"en": 4}, "cap": {"en": 4}}
    assert json.loads((tmp_path / "m" / "manifest.json").read_text())["sources"][1]["image_dirs"] == [str(cache)]
