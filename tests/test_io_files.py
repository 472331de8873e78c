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
