import json

import pytest

from babelvl.io.files import JsonlAppender, read_jsonl_tolerant, write_json_atomic


def test_torn_last_line_is_cut_and_appending_continues(tmp_path):
    path = tmp_path / "r.jsonl"
    with JsonlAppender(path) as out:
        out.write_many([{"id": "a"}, {"id": "b"}])
    with open(path, "a") as fh:  # a kill in the middle of a write
        fh.write('{"id": "c", "resp')
    assert [r["id"] for r in read_jsonl_tolerant(path)] == ["a", "b"]
    with JsonlAppender(path) as out:
        out.write_many([{"id": "c"}])
    assert [r["id"] for r in read_jsonl_tolerant(path)] == ["a", "b", "c"]


def test_corruption_in_the_middle_raises_with_line_number(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": "a"}\nnot json\n{"id": "b"}\n')
    with pytest.raises(ValueError, match="line 2"):
        read_jsonl_tolerant(path)


def test_atomic_json_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "sub" / "x.json"
    write_json_atomic(target, {"é": 1})
    write_json_atomic(target, {"é": 2})
    assert json.loads(target.read_text(encoding="utf-8")) == {"é": 2}
    assert [p.name for p in target.parent.iterdir()] == ["x.json"]


def test_stale_temporaries_of_a_killed_write_are_removed(tmp_path):
    from babelvl.io.files import remove_stale_temporaries, write_atomic

    write_atomic(tmp_path / "a" / "kept.json", "{}")
    (tmp_path / "a" / ".shard-00000.jsonl.x1y2.tmp").write_text("half")  # what a kill -9 mid-write leaves
    (tmp_path / "notes.tmp").write_text("not ours")  # not a hidden temporary of write_atomic
    assert remove_stale_temporaries(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "kept.json", "notes.tmp"]
