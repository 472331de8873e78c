"""Sample plans: stratum counts computed by hand, overlap seen by every annotator, balanced
assignment, determinism for a seed, images as files, and clear errors for bad input."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Callable

import pytest

from babelvl.data.loading import load_rows
from babelvl.errors import InputError
from babelvl.quality.sampling import allocate, load_plan, overlap_count, plan_sample
from babelvl.testing.fixtures import write_mme, write_pope, write_scienceqa
from babelvl.translate.writer import write_rows


@pytest.fixture(scope="module", autouse=True)
def _no_download_counts():
    # datasets pings the Hub to count every load_dataset("parquet") unless offline; its config is
    # read at import time (before conftest sets HF_HUB_OFFLINE), and a slow DNS costs seconds.
    import datasets

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(datasets.config, "HF_UPDATE_DOWNLOAD_COUNTS", False)
        yield


def translated_folder(root: Path, name: str, benchmark: str, writer: Callable[..., Path],
                      languages: list[str], *, column: str = "question",
                      skip_rows: tuple[int, ...] = ()) -> Path:
    """A folder shaped like ``babelvl translate`` output, with ``[lang] `` prefixed translations.

    Rows in ``skip_rows`` get provenance saying ``column`` was not translated.
    """
    source = load_rows(str(writer(root / f"{name}-source.parquet")))
    n = len(source)
    folder = root / name
    write_rows(source, {"babelvl_source_row": list(range(n)),
                        "babelvl_provenance": [json.dumps({"source_row": i, "language": "en",
                                                           "fields": {}}) for i in range(n)]},
               folder / "en" / "test-00000-of-00001.parquet")
    for lang in languages:
        values = source[column]
        translated = [[f"[{lang}] {v}" for v in value] if isinstance(value, list)
                      else f"[{lang}] {value}" for value in values]
        provenance = [json.dumps({"source_row": i, "language": lang, "fields": {} if i in skip_rows
                                  else {column: {"segments": [f"s{i}"], "engines": ["toy"],
                                                 "edited": [], "flagged": []}}})
                      for i in range(n)]
        write_rows(source, {column: translated, "babelvl_source_row": list(range(n)),
                            "babelvl_provenance": provenance},
                   folder / lang / "test-00000-of-00001.parquet")
    (folder / "translate.json").write_text(json.dumps({
        "babelvl_version": "test", "data": str(root / f"{name}-source.parquet"),
        "benchmark": benchmark, "source_language": "en", "languages": ["en", *languages],
        "engine": "toy", "out_dir": str(folder)}), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> list[Path]:
    """POPE (6 rows) in fr and de, MME (4 rows) in fr: strata de/pope 6, fr/mme 4, fr/pope 6."""
    root = tmp_path_factory.mktemp("translated")
    return [translated_folder(root, "pope-x", "pope", write_pope, ["fr", "de"]),
            translated_folder(root, "mme-x", "mme", write_mme, ["fr"])]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def strata_of(plan_dir: Path) -> dict[tuple[str, str], tuple[int, int, int]]:
    plan = json.loads((plan_dir / "plan.json").read_text(encoding="utf-8"))
    return {(s["language"], s["group"]): (s["population"], s["sample"], s["overlap"])
            for s in plan["strata"]}


# -- allocation by hand --------------------------------------------------------------------------


def test_allocate_largest_remainder_then_one_per_stratum():
    # q = 2.4, 2.4, 0.2 -> floors 2, 2, 0; the leftover seat goes to "a" (tie, first); then "c"
    # needs one: taken from the stratum most above its quota ("a", 3 - 2.4 = 0.6).
    assert allocate({"a": 12, "b": 12, "c": 1}, 5, min_one=False) == {"a": 3, "b": 2, "c": 0}
    assert allocate({"a": 12, "b": 12, "c": 1}, 5, min_one=True) == {"a": 2, "b": 2, "c": 1}
    assert allocate({"a": 3, "b": 1}, 4, min_one=True) == {"a": 3, "b": 1}
    with pytest.raises(ValueError):
        allocate({"a": 3, "b": 1, "c": 1}, 2, min_one=True)


def test_overlap_count_rounds_half_up_with_at_least_one():
    assert [overlap_count(o, 10) for o in (0, 0.01, 0.25, 0.3, 0.35, 1)] == [0, 1, 3, 3, 4, 10]


# -- plans ---------------------------------------------------------------------------------------


def test_stratified_counts_match_hand_computation(folders, tmp_path):
    # N = 16; size 5: q = 1.875 (de/pope), 1.25 (fr/mme), 1.875 (fr/pope) -> 1, 1, 1 + the two
    # largest remainders (0.875, 0.875) -> 2, 1, 2.
    summary = plan_sample(folders, annotators=["ann1"], size=5, overlap=0, seed=1, out_dir=tmp_path)
    assert summary.population == 16
    assert strata_of(tmp_path) == {("de", "pope"): (6, 2, 0), ("fr", "mme"): (4, 1, 0),
                                   ("fr", "pope"): (6, 2, 0)}
    # size 3: q = 1.125, 0.75, 1.125 -> 1, 0, 1 + the largest remainder (fr/mme) -> 1, 1, 1.
    plan_sample(folders, annotators=["ann1"], size=3, overlap=0, seed=1, out_dir=tmp_path / "b")
    assert {k: v[1] for k, v in strata_of(tmp_path / "b").items()} == {
        ("de", "pope"): 1, ("fr", "mme"): 1, ("fr", "pope"): 1}


def test_items_pair_source_and_translation_with_images(folders, tmp_path):
    plan_sample(folders, annotators=["ann1"], size=16, overlap=0, seed=3, out_dir=tmp_path)
    items, assignments = load_plan(tmp_path)
    assert len(items) == 16 and len(assignments) == 16
    by_id = {it.item_id: it for it in items}
    item = by_id["pope-x:de:4:question"]
    assert item.source_text == "Is there a thing 4 in the image?"
    assert item.target_text == "[de] Is there a thing 4 in the image?"
    assert (item.language, item.group, item.field) == ("de", "pope", "question")
    assert item.meta == {"dataset": "pope-x", "row": 4, "source_row": 4, "engines": ["toy"],
                         "edited": False, "flagged": False}
    assert by_id["mme-x:fr:1:question"].source_text.startswith("Is there a cat?")
    # Images: relative paths, one file per distinct image; a row's image is the same in fr and de.
    assert item.image_path and item.image_path.startswith("images/") and item.image_path.endswith(".png")
    assert (tmp_path / item.image_path).read_bytes()[:4] == b"\x89PNG"
    assert by_id["pope-x:fr:4:question"].image_path == item.image_path
    # The fixtures draw image i for row i in both benchmarks: identical bytes are stored once.
    assert by_id["mme-x:fr:0:question"].image_path == by_id["pope-x:de:0:question"].image_path
    files = sorted(p.name for p in (tmp_path / "images").iterdir())
    assert len(files) == 6 == json.loads((tmp_path / "plan.json").read_text())["images"]


def test_overlap_items_go_to_every_annotator_the_rest_balanced(folders, tmp_path):
    annotators = ["ann1", "ann2", "ann3"]
    summary = plan_sample(folders, annotators=annotators, size=8, overlap=0.25, seed=7,
                          out_dir=tmp_path)
    items, assignments = load_plan(tmp_path)
    overlap = {it.item_id for it in items if it.overlap}
    # 0.25 * 8 = 2 overlap items, spread like the sample (3, 2, 3): q = 0.75, 0.5, 0.75.
    assert summary.overlap_items == 2 and len(overlap) == 2
    assert strata_of(tmp_path) == {("de", "pope"): (6, 3, 1), ("fr", "mme"): (4, 2, 0),
                                   ("fr", "pope"): (6, 3, 1)}
    who = {}
    for a in assignments:
        who.setdefault(a.item_id, []).append(a.annotator)
    assert all(who[i] == annotators for i in overlap)
    assert all(len(who[it.item_id]) == 1 for it in items if not it.overlap)
    # 6 single items dealt round-robin: 2 each, plus the 2 overlap items.
    assert Counter(a.annotator for a in assignments) == {"ann1": 4, "ann2": 4, "ann3": 4}
    assert summary.per_annotator == {"ann1": 4, "ann2": 4, "ann3": 4}
    assert len(assignments) == len(set((a.item_id, a.annotator) for a in assignments)) == 12


def test_same_seed_same_files_other_seed_other_sample(folders, tmp_path):
    args = dict(annotators=["a", "b"], size=6, overlap=0.5)
    plan_sample(folders, seed=11, out_dir=tmp_path / "one", **args)
    plan_sample(folders, seed=11, out_dir=tmp_path / "two", **args)
    for name in ("items.jsonl", "assignments.jsonl", "plan.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    plan_sample(folders, seed=12, out_dir=tmp_path / "three", **args)
    ids = [{r["item_id"] for r in read_jsonl(tmp_path / d / "items.jsonl")} for d in ("one", "three")]
    assert ids[0] != ids[1]
    plan = json.loads((tmp_path / "one" / "plan.json").read_text())
    assert plan["seed"] == 11 and plan["size"] == 6 and plan["overlap_items"] == 3
    assert plan["babelvl_version"] and [d["name"] for d in plan["datasets"]] == ["pope-x", "mme-x"]


def test_languages_fields_and_untranslated_rows_narrow_the_population(tmp_path):
    root = tmp_path / "data"
    folder = translated_folder(root, "sqa", "scienceqa", write_scienceqa, ["fr", "it"],
                               column="choices", skip_rows=(1,))
    plan_sample([folder], annotators=["a"], size=2, overlap=0, seed=0, languages=["it"],
                fields=["choices"], out_dir=tmp_path / "plan")
    items, _ = load_plan(tmp_path / "plan")
    # it: rows 0 and 2 (row 1 not translated according to its provenance); hint/question never were.
    assert sorted(it.item_id for it in items) == ["sqa:it:0:choices", "sqa:it:2:choices"]
    item = next(it for it in items if it.item_id == "sqa:it:0:choices")
    assert item.source_text == "attract\nrepel" and item.target_text == "[it] attract\n[it] repel"


# -- errors ------------------------------------------------------------------------------------


def test_errors_name_the_folder_or_field(folders, tmp_path):
    ok = dict(annotators=["a", "b"], size=4, overlap=0.5, seed=0, out_dir=tmp_path / "p")

    plain = tmp_path / "plain"
    (plain / "fr").mkdir(parents=True)
    with pytest.raises(InputError, match="no translate.json") as info:
        plan_sample([plain], **ok)
    assert info.value.file == str(plain)

    no_lang = tmp_path / "nolang"
    no_lang.mkdir()
    (no_lang / "translate.json").write_text(json.dumps({"benchmark": "pope", "languages": ["en", "fr"]}))
    with pytest.raises(InputError, match="language subfolder") as info:
        plan_sample([no_lang], **ok)
    assert info.value.file == str(no_lang)

    with pytest.raises(InputError, match="larger than the population of 16"):
        plan_sample(folders, **{**ok, "size": 17})
    with pytest.raises(InputError, match="smaller than the 3"):
        plan_sample(folders, **{**ok, "size": 2})
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(InputError, match="between 0 and 1") as info:
            plan_sample(folders, **{**ok, "overlap": bad})
        assert info.value.field == "overlap"
    with pytest.raises(InputError, match="at least 2"):
        plan_sample(folders, **{**ok, "annotators": ["solo"]})
    plan_sample(folders, **{**ok, "annotators": ["solo"], "overlap": 0})  # fine without overlap
    with pytest.raises(InputError, match="listed twice"):
        plan_sample(folders, **{**ok, "annotators": ["a", "a"]})
    with pytest.raises(InputError, match="not translated in any dataset") as info:
        plan_sample(folders, **{**ok, "fields": ["answer"]})
    assert info.value.field == "answer"
    with pytest.raises(InputError, match="'ja' is not a target language"):
        plan_sample(folders, **{**ok, "languages": ["ja"]})
