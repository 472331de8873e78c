"""The sample suite: every benchmark x language materialises, loads through the loaders, and is stable."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from babelvl.benchmarks.base import Item, Rejected, Scored
from babelvl.benchmarks.registry import BENCHMARKS, get_benchmark
from babelvl.benchmarks.sample_suite import features_for, materialize_sample_suite, sample_languages
from babelvl.data.loading import load_rows
from babelvl.testing import fixtures as fx

LANGUAGES = ["de", "en", "es", "fr", "it"]


@pytest.fixture(autouse=True)
def _packs(tmp_path_factory, monkeypatch):
    folder = fx.write_missing_language_packs(tmp_path_factory.mktemp("packs"))
    if folder is not None:
        monkeypatch.setenv("BABELVL_LANGUAGE_PATH", str(folder))


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    return materialize_sample_suite(tmp_path_factory.mktemp("suite"))


@pytest.fixture(scope="module")
def loaded(suite):
    """{(benchmark, language): (rows, items, rejected)} read back through the normal loaders."""
    out = {}
    for (bench, lang), path in suite.items():
        rows = load_rows(str(path), config=None, split=None)
        objs = list(get_benchmark(bench).iter_items(rows, lang, str(path)))
        out[bench, lang] = (rows, [o for o in objs if isinstance(o, Item)],
                            [o for o in objs if isinstance(o, Rejected)])
    return out


def test_all_benchmarks_and_languages_materialise_in_the_real_schemas(suite, loaded):
    assert sample_languages() == LANGUAGES
    assert set(suite) == {(b, lang) for b in BENCHMARKS for lang in LANGUAGES}
    for (bench, lang), path in suite.items():
        assert path.name == f"{lang}.parquet" and path.parent.name == bench
        rows, items, rejected = loaded[bench, lang]
        assert not rejected, (bench, lang, rejected)
        assert 4 <= len(rows) <= 12 and items
        expected = features_for(bench)
        assert list(rows.features) == list(expected)
        for name, feature in expected.items():
            if name != "image":
                assert rows.features[name] == feature, (bench, name)


def test_ids_answers_and_images_match_across_languages(loaded):
    for bench in BENCHMARKS:
        reference = [(i.id, i.answer, i.images, sorted(i.options)) for i in loaded[bench, "en"][1]]
        for lang in LANGUAGES:
            items = loaded[bench, lang][1]
            assert [(i.id, i.answer, i.images, sorted(i.options)) for i in items] == reference, (bench, lang)
        if lang != "en":
            assert loaded[bench, "fr"][1][0].question != loaded[bench, "en"][1][0].question


def test_items_cover_the_structure_each_metric_needs(loaded):
    mmb = loaded["mmbench", "en"][1]
    originals = [i for i in mmb if i.meta["pass"] == 0]
    assert {len(i.options) for i in originals} == {2, 3, 4}
    assert len({i.category for i in originals}) >= 5 and len({i.meta["l2_category"] for i in originals}) >= 4
    assert any(i.hint for i in originals) and len(mmb) == sum(len(i.options) for i in originals)
    mme = loaded["mme", "en"][1]
    pairs = {}
    for item in mme:
        pairs.setdefault(item.meta["image_id"], []).append(item.answer)
    assert all(sorted(a) == ["no", "yes"] for a in pairs.values())
    assert {i.category for i in mme} >= {"existence", "count", "color", "position", "OCR",
                                         "numerical_calculation"}
    pope = loaded["pope", "en"][1]
    assert {i.category for i in pope} == {"adversarial", "popular", "random"}
    assert len({i.id for i in pope}) == len(pope)
    sqa = loaded["scienceqa", "en"][1]
    assert len({i.meta["subject"] for i in sqa}) == 2 and len({i.answer for i in sqa}) >= 2
    assert len({i.answer for i in loaded["ai2d", "en"][1]}) >= 2


def test_images_decode_and_are_drawn_large_enough(loaded):
    for bench in BENCHMARKS:
        for item in loaded[bench, "en"][1]:
            image = Image.open(io.BytesIO(item.images[0]))
            assert image.size == (336, 336) and image.mode == "RGB"


def test_perfect_answers_give_maximal_official_metrics(loaded):
    for bench in BENCHMARKS:
        for lang in ("en", "it"):
            items = loaded[bench, lang][1]
            scored = [Scored(i.id, i.row, lang, i.answer, i.answer, "ok", True, i.category, dict(i.meta))
                      for i in items]
            m = get_benchmark(bench).metrics(scored)
            if bench == "mmbench":
                assert m["circular_accuracy"] == 1.0 and m["vanilla_accuracy"] == 1.0
            elif bench == "mme":
                assert m["perception"] == 1000.0 and m["cognition"] == 200.0
            elif bench == "pope":
                assert m["overall"]["f1"] == 1.0 and m["overall"]["yes_ratio"] == 0.5
            else:
                assert m["accuracy"] == 1.0


def test_materialising_is_deterministic_and_idempotent(suite, tmp_path):
    again = materialize_sample_suite(tmp_path / "second")
    assert {k: p.read_bytes() for k, p in again.items()} == {k: p.read_bytes() for k, p in suite.items()}
    stamps = {k: p.stat().st_mtime_ns for k, p in again.items()}
    assert materialize_sample_suite(tmp_path / "second") == again
    assert {k: p.stat().st_mtime_ns for k, p in again.items()} == stamps
    # A damaged file is noticed (its hash is recorded) and rewritten with the same bytes.
    target = again["pope", "fr"]
    target.write_bytes(b"damaged")
    materialize_sample_suite(tmp_path / "second")
    assert target.read_bytes() == suite["pope", "fr"].read_bytes()
