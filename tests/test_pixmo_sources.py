"""PixMo-Cap, PixMo-AMA and CoSyn-400K sources: Hub schemas, stable ids, and bad input reported precisely."""

from __future__ import annotations

import copy

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from babelvl.errors import InputError
from babelvl.pixmo import Rejected, SourceRecord, get_source, load_source
from babelvl.pixmo.sources import SOURCES, stable_id
from babelvl.testing.pixmo_fixtures import (ama_rows, cap_rows, cosyn_rows, write_ama, write_cap,
                                            write_cosyn, write_source)

BASE = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def cosyn_default_rows():
    return cosyn_rows()  # renders three small matplotlib charts once


def split(loaded):
    records, rejected = loaded.collect()
    assert len(records) + len(rejected) == len(loaded), "every row ends in records or rejects"
    return records, rejected


def only_rejection(loaded) -> Rejected:
    _, rejected = split(loaded)
    assert len(rejected) == 1, rejected
    return rejected[0]


# --- schemas --------------------------------------------------------------------------------------

def test_fixture_parquet_files_have_the_hub_arrow_types(tmp_path, cosyn_default_rows):
    cap = pq.read_schema(write_cap(tmp_path / "cap.parquet", BASE))
    assert cap.names == ["image_url", "caption", "transcripts"]
    assert cap.field("transcripts").type == pa.list_(pa.string())
    ama = pq.read_schema(write_ama(tmp_path / "ama.parquet", BASE))
    assert ama.names == ["image_url", "image_sha256", "question", "answer"]
    assert all(ama.field(n).type == pa.string() for n in ama.names)
    cosyn = pq.read_schema(write_cosyn(tmp_path / "cosyn.parquet", cosyn_default_rows))
    assert cosyn.names == ["id", "image", "qa_pairs", "metadata", "data", "code"]
    assert cosyn.field("image").type == pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    assert cosyn.field("qa_pairs").type == pa.struct(
        [(k, pa.list_(pa.string())) for k in ("question", "explanation", "answer")])
    assert cosyn.field("metadata").type == pa.struct(
        [(k, pa.string()) for k in ("figure_type", "persona", "topic")])
    assert b"Image" in cosyn.metadata[b"huggingface"]  # datasets reads the column back as Image()


def test_registry_names_aliases_and_hub_ids():
    assert get_source("cap") is SOURCES["pixmo-cap"]
    assert get_source("AMA").name == "pixmo-ask-model-anything"
    assert get_source("allenai/CoSyn-400K").name == "cosyn-400k"
    assert get_source("cosyn").configs == ("chart", "chemical", "circuit", "diagram", "document",
                                           "graphic", "math", "music", "nutrition", "table")
    assert get_source("cosyn").splits == ("train", "validation")
    for source in SOURCES.values():
        assert "ODC-BY" in source.license and source.split == "train"
    with pytest.raises(InputError, match="unknown source 'pixmo-points'.*pixmo-cap"):
        get_source("pixmo-points")


# --- valid data -------------------------------------------------------------------------------------

def test_cap_records_have_url_ids_and_transcripts(tmp_path):
    path = write_cap(tmp_path / "cap.parquet", BASE)
    records, rejected = split(load_source("cap", str(path)))
    assert rejected == []
    assert [r.row for r in records] == [0, 1, 2]
    first = records[0]
    assert isinstance(first, SourceRecord) and first.source == "pixmo-cap"
    assert first.image_url == f"{BASE}/img/0.png" and first.image is None and first.image_sha256 is None
    assert first.id == stable_id(first.image_url)
    assert first.fields["transcripts"] == cap_rows(BASE)[0]["transcripts"]
    assert first.file == str(path)


def test_ids_are_stable_across_runs_copies_and_row_order(tmp_path):
    rows = ama_rows(BASE)
    a = split(load_source("ama", str(write_ama(tmp_path / "a.parquet", BASE, rows))))[0]
    b = split(load_source("ama", str(write_ama(tmp_path / "b.parquet", BASE, rows[::-1]))))[0]
    assert {r.id for r in a} == {r.id for r in b}
    assert len({r.id for r in a}) == len(rows)  # several questions per image, distinct ids
    by_id = {r.id: r for r in b}
    for record in a:
        assert by_id[record.id].fields == record.fields
        assert record.id == stable_id(record.image_url, record.fields["question"])
        assert record.image_sha256 == rows[0 if record.image_url.endswith("/0.png") else 2]["image_sha256"]


def test_cosyn_config_split_layout_and_records(tmp_path, cosyn_default_rows):
    root = tmp_path / "CoSyn-400K"
    write_cosyn(root / "chart" / "train-00000-of-00001.parquet", cosyn_default_rows)
    write_cosyn(root / "chart" / "validation-00000-of-00001.parquet", cosyn_default_rows[:1])
    table_rows = copy.deepcopy(cosyn_default_rows[:2])
    for n, row in enumerate(table_rows):
        row["id"] = f"table_{n:05d}"
    write_cosyn(root / "table" / "train-00000-of-00001.parquet", table_rows)

    chart = load_source("cosyn", str(root))  # defaults: chart, train
    assert (chart.config, chart.split, len(chart)) == ("chart", "train", 3)
    records, rejected = split(chart)
    assert rejected == []
    first = records[0]
    assert first.id == "chart_00000" and first.config == "chart" and first.image_url is None
    assert first.image.startswith(b"\x89PNG")
    assert first.fields["qa_pairs"][0] == {"question": "What is the title of the chart?",
                                           "explanation": "The title reads 'Fruit sold'.",
                                           "answer": "Fruit sold"}
    assert first.fields["metadata"]["figure_type"] == "bar chart"
    assert "def generate_plot(data)" in first.fields["code"] and first.fields["data"].startswith("[")
    assert len(load_source("cosyn", str(root), split="validation")) == 1
    assert [r.id for r in split(load_source("cosyn", str(root), config="table"))[0]] == \
        ["table_00000", "table_00001"]
    with pytest.raises(InputError, match="unknown config 'charts'.*chart, chemical"):
        load_source("cosyn", str(root), config="charts")
    with pytest.raises(InputError, match="unknown split 'test'"):
        load_source("cosyn", str(root), split="test")


def test_limit_keeps_the_first_rows(tmp_path):
    path = write_cap(tmp_path / "cap.parquet", BASE, cap_rows(BASE, 5))
    loaded = load_source("cap", str(path), limit=2)
    assert len(loaded) == 2 and [r.row for r in split(loaded)[0]] == [0, 1]


def test_plain_row_dicts_work_and_qa_pairs_may_be_a_list_of_dicts(cosyn_default_rows):
    row = dict(cosyn_default_rows[0])
    qa = row["qa_pairs"]
    row["qa_pairs"] = [{"question": q, "explanation": None, "answer": a}
                       for q, a in zip(qa["question"], qa["answer"])]
    row["image"] = {"bytes": row["image"], "path": None}
    (record,) = get_source("cosyn").iter_records([row], file="rows.jsonl")
    assert isinstance(record, SourceRecord)
    assert record.fields["qa_pairs"][1] == {"question": "Which label is largest?", "explanation": None,
                                            "answer": "C"}


# --- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, column", [("cap", "transcripts"), ("cap", "image_url"),
                                          ("ama", "image_sha256"), ("cosyn", "qa_pairs"),
                                          ("cosyn", "image")])
def test_missing_column_names_file_and_field(tmp_path, name, column):
    path = tmp_path / f"{name}.parquet"
    if name == "cap":
        write_cap(path, BASE, drop=[column])
    elif name == "ama":
        write_ama(path, BASE, drop=[column])
    else:
        write_cosyn(path, cosyn_rows(1, render=False), drop=[column])
    with pytest.raises(InputError) as info:
        load_source(name, str(path))
    assert info.value.file == str(path) and info.value.field == column
    assert str(path) in str(info.value) and f"'{column}'" in str(info.value)
    assert "missing required column" in str(info.value)


def test_mistyped_column_is_an_input_error(tmp_path):
    import datasets

    path = tmp_path / "cap.parquet"
    datasets.Dataset.from_dict({"image_url": [f"{BASE}/img/0.png"], "caption": ["c"],
                                "transcripts": ["one transcript, not a list"]}).to_parquet(str(path))
    with pytest.raises(InputError, match="column of type string where pixmo-cap has list") as info:
        load_source("cap", str(path))
    assert info.value.field == "transcripts" and info.value.file == str(path)


def test_cap_empty_transcripts_and_bad_cells_are_rejected_with_row_and_field(tmp_path):
    rows = cap_rows(BASE, 6)
    rows[1]["transcripts"] = []
    rows[2]["transcripts"] = None
    rows[3]["transcripts"] = ["fine", "   "]
    rows[4]["image_url"] = "s3://bucket/x.png"
    rows[5]["caption"] = ""
    rows.append(dict(cap_rows(BASE, 1)[0]))  # same image_url as row 0
    path = write_cap(tmp_path / "cap.parquet", BASE, rows)
    records, rejected = split(load_source("cap", str(path)))
    assert [r.row for r in records] == [0]
    got = {r.row: (r.field, r.reason) for r in rejected}
    assert got[1] == ("transcripts", "empty transcripts")
    assert got[2] == ("transcripts", "empty transcripts")
    assert got[3] == ("transcripts[1]", "empty text")
    assert got[4][0] == "image_url" and "not an http(s) URL" in got[4][1]
    assert got[5] == ("caption", "empty text")
    assert got[6][0] == "image_url" and "duplicate id" in got[6][1] and "row 0" in got[6][1]
    assert all(r.file == str(path) and r.source == "pixmo-cap" for r in rejected)
    assert rejected[0].to_json()["row"] == 1


def test_ama_bad_rows_are_rejected(tmp_path):
    rows = ama_rows(BASE, images=1, per_image=5)
    rows[1]["image_sha256"] = "not-a-hash"
    rows[2]["question"] = None
    rows[3]["answer"] = "  "
    rows[4]["question"] = rows[0]["question"]  # same image and question: same id
    rows[0]["image_sha256"] = rows[0]["image_sha256"].upper()  # accepted, normalised
    path = write_ama(tmp_path / "ama.parquet", BASE, rows)
    records, rejected = split(load_source("ama", str(path)))
    assert [r.row for r in records] == [0]
    assert records[0].image_sha256 == rows[0]["image_sha256"].lower()
    got = {r.row: (r.field, r.reason) for r in rejected}
    assert got[1][0] == "image_sha256" and "not a sha256 hex digest" in got[1][1]
    assert got[2] == ("question", "missing value")
    assert got[3] == ("answer", "empty text")
    assert got[4][0] == "question" and got[4][1].startswith("duplicate id")


def test_cosyn_bad_rows_are_rejected(tmp_path):
    rows = cosyn_rows(6, render=False)
    rows[1]["image"] = b"not an image"
    rows[2]["qa_pairs"] = {"question": [], "explanation": [], "answer": []}
    rows[3]["qa_pairs"] = {"question": ["q1", "q2"], "explanation": ["e1"], "answer": ["a1", "a2"]}
    rows[4]["qa_pairs"]["answer"][1] = ""
    rows[5]["id"] = rows[0]["id"]
    path = write_cosyn(tmp_path / "train.parquet", rows)
    records, rejected = split(load_source("cosyn", str(path)))
    assert [r.row for r in records] == [0]
    got = {r.row: (r.field, r.reason) for r in rejected}
    assert got[1][0] == "image" and "cannot be decoded" in got[1][1]
    assert got[2] == ("qa_pairs", "no question-answer pairs")
    assert got[3][0] == "qa_pairs" and "different lengths" in got[3][1]
    assert got[4] == ("qa_pairs[1].answer", "empty text")
    assert got[5][0] == "id" and "duplicate id chart_00000" in got[5][1]


def test_unreadable_source_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        load_source("cap", str(tmp_path / "missing.parquet"))
    with pytest.raises(InputError, match="limit"):
        load_source("cap", str(tmp_path), limit=-1)


def test_write_source_accepts_any_registered_schema(tmp_path):
    path = write_source("pixmo-cap", tmp_path / "x.parquet", [{"image_url": f"{BASE}/img/9.png"}])
    _, rejected = split(load_source("cap", str(path)))
    assert rejected[0].field == "caption" and rejected[0].reason == "missing value"


def test_shards_give_the_same_rows_ids_and_rejections_as_a_full_pass(tmp_path):
    rows = cap_rows(BASE, 7)
    rows[5] = dict(rows[1])  # a duplicate in a later shard
    rows[3]["caption"] = None
    loaded = load_source("cap", str(write_cap(tmp_path / "cap.parquet", BASE, rows)))

    def summary(objs):
        return [(o.row, o.id, getattr(o, "reason", None)) for o in objs]

    full = summary(loaded)
    sharded = summary([o for start in range(0, 7, 3) for o in loaded.iter_range(start, start + 3)])
    assert sharded == full
    rejected = {row: reason for row, _, reason in full if reason}
    assert rejected[3] == "missing value" and "same as row 1" in rejected[5]
    assert loaded.first_rows()[stable_id(rows[1]["image_url"])] == 1
