"""Rows in the real schemas -> items: ids, answers, prompts, rejected rows, missing columns."""

from __future__ import annotations

import pytest

from babelvl.benchmarks.base import Item, Rejected
from babelvl.benchmarks.registry import BENCHMARKS, get_benchmark
from babelvl.data.loading import load_rows
from babelvl.errors import InputError
from babelvl.languages import load_language
from babelvl.testing import fixtures as fx


@pytest.fixture(autouse=True)
def _packs(tmp_path_factory, monkeypatch):
    """Use the shipped packs; fill in minimal ones only for languages not shipped (yet)."""
    folder = fx.write_missing_language_packs(tmp_path_factory.mktemp("packs"))
    if folder is not None:
        monkeypatch.setenv("BABELVL_LANGUAGE_PATH", str(folder))


def run(bench: str, path, language: str = "en", **options):
    rows = load_rows(str(path))
    out = list(get_benchmark(bench, **options).iter_items(rows, language, str(path)))
    return [o for o in out if isinstance(o, Item)], [o for o in out if isinstance(o, Rejected)]


def label(pack, key, default):
    return pack.label(key, default).rstrip(":").strip()


# --- items from valid rows ----------------------------------------------------------------------------

def test_mmbench_items_and_prompt(tmp_path):
    path = fx.write_mmbench(tmp_path / "mmbench.parquet")
    items, rejected = run("mmbench", path, circular=False)
    assert not rejected and [i.id for i in items] == ["0", "1", "2"]
    first, two, three = items
    assert first.options == {"A": "red", "B": "green", "C": "blue", "D": "yellow"} and first.answer == "C"
    assert two.options == {"A": "yes", "B": "no"}
    assert three.options == {"A": "CLOSED", "B": "OPEN", "C": "EXIT"}
    assert first.hint == "Look at the shape." and three.hint is None  # "nan" means no hint
    assert first.meta == {"group": 0, "pass": 0, "l2_category": "finegrained_perception (instance-level)"}
    assert first.category == "attribute_recognition"
    assert first.images == [fx.draw_image(0)] and two.images == [fx.draw_image(1)]
    pack = load_language("en")
    assert get_benchmark("mmbench").prompt(first, pack) == (
        f"{label(pack, 'hint', 'Hint')}: Look at the shape.\nWhat color is the square?\n"
        f"{label(pack, 'options', 'Options')}:\nA. red\nB. green\nC. blue\nD. yellow\n"
        f"{pack.instruction('multiple_choice')}")
    assert get_benchmark("mmbench").prompt(two, pack).startswith("Is the circle left of the square?\n")


def test_mmbench_data_with_rotated_copies_is_not_expanded_again(tmp_path):
    path = fx.write_mmbench(tmp_path / "mmbench.parquet", fx.mmbench_circular_rows())
    items, _ = run("mmbench", path)
    assert [(i.id, i.answer, i.meta["group"], i.meta["pass"]) for i in items] == [
        ("5", "A", 5, 0), ("1000005", "B", 5, 1)]


def test_scienceqa_items_and_prompt(tmp_path):
    path = fx.write_scienceqa(tmp_path / "sqa.parquet")
    items, rejected = run("scienceqa", path)
    assert not rejected
    assert [(i.id, i.answer) for i in items] == [("sqa-0", "A"), ("sqa-1", "C"), ("sqa-2", "B")]
    assert items[1].options == {"A": "north", "B": "south", "C": "east", "D": "west"}
    assert items[1].hint is None and items[0].hint == "Two magnets."
    assert items[0].category == "Magnets" and items[0].meta["subject"] == "natural science"
    pack = load_language("en")
    assert get_benchmark("scienceqa").prompt(items[0], pack) == (
        f"{label(pack, 'context', label(pack, 'hint', 'Context'))}: Two magnets.\n"
        "Will these magnets attract or repel?\n"
        f"A. attract\nB. repel\n{pack.instruction('multiple_choice')}")


def test_mme_items_ids_and_prompt(tmp_path):
    path = fx.write_mme(tmp_path / "mme.parquet")
    items, rejected = run("mme", path)
    assert not rejected
    assert [(i.id, i.answer) for i in items] == [
        ("existence/1.png#0", "yes"), ("existence/1.png#1", "no"),
        ("code_reasoning/7.png#0", "yes"), ("code_reasoning/7.png#1", "no")]
    assert items[0].meta == {"image_id": "existence/1.png"} and items[0].options == {}
    bench, pack = get_benchmark("mme"), load_language("en")
    assert bench.prompt(items[0], pack) == items[0].question  # suffix already there
    bare = Item("mme", "en", "x#0", 0, "Is there a dog?", "yes")
    assert bench.prompt(bare, pack) == f"Is there a dog? {pack.instruction('yes_no')}"


def test_pope_items_ids_and_prompt(tmp_path):
    path = fx.write_pope(tmp_path / "pope.parquet")
    items, rejected = run("pope", path)
    assert not rejected
    assert [i.id for i in items] == ["adversarial-1", "adversarial-2", "popular-1", "popular-2",
                                     "random-1", "random-2"]
    assert [i.answer for i in items] == ["yes", "no"] * 3 and items[2].category == "popular"
    pack = load_language("en")
    assert get_benchmark("pope").prompt(items[0], pack) == (
        f"Is there a thing 0 in the image?\n{pack.instruction('short_answer')}")


def test_ai2d_items_and_prompt(tmp_path):
    path = fx.write_ai2d(tmp_path / "ai2d.parquet")
    items, rejected = run("ai2d", path)
    assert not rejected and [(i.id, i.answer) for i in items] == [("ai2d-0", "B"), ("ai2d-1", "A")]
    assert items[1].options == {"A": "larva", "B": "adult", "C": "pupa"}
    pack = load_language("en")
    assert get_benchmark("ai2d").prompt(items[1], pack) == (
        f"What comes after the egg?\nA. larva\nB. adult\nC. pupa\n{pack.instruction('multiple_choice')}")


def test_prompts_use_the_item_language_pack(tmp_path):
    path = fx.write_pope(tmp_path / "pope.parquet")
    items, _ = run("pope", path, "fr")
    fr = load_language("fr")
    assert get_benchmark("pope").prompt(items[0], fr).endswith(fr.instruction("short_answer"))


# --- bad rows -> Rejected with row and field ----------------------------------------------------------

def test_mmbench_bad_rows_are_rejected_with_row_and_field(tmp_path):
    rows = fx.mmbench_rows()
    rows[0]["answer"] = "E"
    rows[1]["B"] = None                      # a single option left
    rows[2]["question"] = "  "
    rows.append({**fx.mmbench_rows()[0], "index": 3, "image": b"not an image"})
    rows.append({**fx.mmbench_rows()[0], "index": 4})
    path = fx.write_mmbench(tmp_path / "bad.parquet", rows)
    items, rejected = run("mmbench", path)
    assert [(r.row, r.field) for r in rejected] == [(0, "answer"), (1, "B"), (2, "question"), (3, "image")]
    assert all(r.file == str(path) and r.reason for r in rejected)
    assert "not one of the options" in rejected[0].reason and rejected[0].id == "0"
    assert [i.id for i in items] == ["4", "1000004", "2000004", "3000004"]


def test_scienceqa_bad_rows(tmp_path):
    rows = fx.scienceqa_rows()
    rows[0]["answer"] = 5
    rows[1]["choices"] = ["only one"]
    rows[2]["image"] = b"\x89PNG broken"
    items, rejected = run("scienceqa", fx.write_scienceqa(tmp_path / "bad.parquet", rows))
    assert not items
    assert [(r.row, r.field, r.id) for r in rejected] == [(0, "answer", "sqa-0"), (1, "choices", "sqa-1"),
                                                          (2, "image", "sqa-2")]


def test_mme_and_pope_answers_must_be_yes_or_no(tmp_path):
    rows = fx.mme_rows()
    rows[1]["answer"] = "Maybe"
    items, rejected = run("mme", fx.write_mme(tmp_path / "mme.parquet", rows))
    assert [(r.row, r.field, r.id) for r in rejected] == [(1, "answer", "existence/1.png#1")]
    assert items[1].id == "code_reasoning/7.png#0"  # later ids do not shift
    prows = fx.pope_rows()
    prows[0]["answer"] = "perhaps"
    prows[3]["question_id"] = "1"             # popular-1 twice
    prows[4]["question"] = ""
    items, rejected = run("pope", fx.write_pope(tmp_path / "pope.parquet", prows))
    assert [(r.row, r.field) for r in rejected] == [(0, "answer"), (3, "question_id"), (4, "question")]
    assert "duplicate" in rejected[1].reason and len(items) == 3


def test_ai2d_answer_must_index_the_options(tmp_path):
    rows = fx.ai2d_rows() + [{"question": "Q?", "options": ["a", "b"], "answer": "x"},
                             {"question": "Q?", "options": ["a", ""], "answer": "0"}]
    rows[0]["answer"] = "4"
    items, rejected = run("ai2d", fx.write_ai2d(tmp_path / "ai2d.parquet", rows))
    assert [(r.row, r.field) for r in rejected] == [(0, "answer"), (2, "answer"), (3, "options")]
    assert [i.id for i in items] == ["ai2d-1"]


# --- missing columns -> InputError naming file and field ---------------------------------------------

@pytest.mark.parametrize("bench,column", [("mmbench", "answer"), ("mmbench", "index"),
                                          ("scienceqa", "choices"), ("mme", "question_id"),
                                          ("pope", "category"), ("ai2d", "options"), ("ai2d", "image")])
def test_missing_required_column_names_file_and_field(tmp_path, bench, column):
    path = fx.WRITERS[bench](tmp_path / f"{bench}.parquet", drop=(column,))
    with pytest.raises(InputError) as err:
        run(bench, path)
    assert err.value.field == column and err.value.file == str(path)
    assert str(path) in str(err.value) and column in str(err.value)


def test_every_benchmark_declares_its_schema():
    for name in BENCHMARKS:
        b = get_benchmark(name)
        assert b.name == name and b.kind in ("choice", "yesno") and b.hub_id.startswith("lmms-lab/")
        assert "image" in b.required_columns and b.license


# --- ids are stable across a translated copy ----------------------------------------------------------

TRANSLATE = {"fr": ("Oui", "Non"), "it": ("Sì", "No")}


@pytest.mark.parametrize("language", ["fr", "it"])
def test_translated_copies_keep_ids_and_answers(tmp_path, language):
    yes, no = TRANSLATE[language]
    for bench, rows in (("mmbench", fx.mmbench_rows()), ("scienceqa", fx.scienceqa_rows()),
                        ("mme", fx.mme_rows()), ("pope", fx.pope_rows()), ("ai2d", fx.ai2d_rows())):
        translated = []
        for row in rows:
            row = {**row, "question": f"[{language}] {row['question']}"}
            if bench in ("mme", "pope"):
                row["answer"] = yes if row["answer"].lower() == "yes" else no
            if bench == "mmbench":
                row.update({c: f"[{language}] {row[c]}" for c in "ABCD" if row.get(c)})
            translated.append(row)
        en_items, _ = run(bench, fx.WRITERS[bench](tmp_path / f"{bench}-en.parquet", rows))
        tr_items, rejected = run(bench, fx.WRITERS[bench](tmp_path / f"{bench}-{language}.parquet",
                                                          translated), language)
        assert not rejected, (bench, rejected)
        assert [(i.id, i.answer) for i in tr_items] == [(i.id, i.answer) for i in en_items], bench
        assert all(i.language == language for i in tr_items)


def test_unknown_benchmark_lists_known_names():
    with pytest.raises(InputError, match="known: mmbench, scienceqa, mme, pope, ai2d"):
        get_benchmark("mmmu")
    assert get_benchmark("ScienceQA-IMG").name == "scienceqa" and get_benchmark("sqa").name == "scienceqa"
    assert get_benchmark("ai2d-no-mask").hub_id == "lmms-lab/ai2d-no-mask"
