"""Post-edit work files (csv, jsonl, Label Studio, Argilla) and the edit store: round trips,
idempotent re-import, HTER, and all-or-nothing validation of bad files."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Callable

import pytest

from babelvl.errors import InputError
from babelvl.translate.base import CheckResult, SegmentTranslation, segment_id
from babelvl.translate.edits import ApplyResult, Edit, EditStore, corpus_hter
from babelvl.translate.postedit import (LABEL_STUDIO_CONFIG, ImportProblemsError, detect_format,
                                        export_worklist, import_edits, known_by_id)

# -- a tiny dataset: masked segments and a per-segment placeholder table ---------------------

SRC_CAT = "The cat is black."
SRC_APPLES = "There are ⟦0⟧ apples."
SRC_HELLO = "Hello world"
ID_CAT, ID_APPLES, ID_HELLO = segment_id(SRC_CAT), segment_id(SRC_APPLES), segment_id(SRC_HELLO)
SPANS = {ID_APPLES: {"⟦0⟧": "42"}}


def unmask(sid: str, text: str) -> str:
    for placeholder, span in SPANS.get(sid, {}).items():
        text = text.replace(placeholder, span)
    return text


def mask(sid: str, text: str) -> str | None:
    for placeholder, span in SPANS.get(sid, {}).items():
        if span not in text:
            return None
        text = text.replace(span, placeholder)
    return text


def translations() -> list[SegmentTranslation]:
    return [
        SegmentTranslation(ID_CAT, "fr", SRC_CAT, "le chat noir", "fake", "default-v0",
                           fields=["question"]),
        SegmentTranslation(ID_APPLES, "fr", SRC_APPLES, "Il y a ⟦0⟧ pommes.", "fake", "default-v0",
                           failures=[CheckResult("length_ratio", "target 0.4x the source")],
                           fields=["hint", "question"]),
        SegmentTranslation(ID_HELLO, "fr", SRC_HELLO, "Bonjour le monde", "fake", "default-v0",
                           edited=True, editor="ann", edited_at="2024-01-01T00:00:00Z",
                           machine_target="Salut monde"),
        SegmentTranslation(ID_HELLO, "de", SRC_HELLO, "Hallo Welt", "fake", "default-v0"),
    ]


KNOWN = known_by_id(translations())
CTX = {ID_CAT: {"example": "mmbench:7"}, ID_APPLES: {"example": "scienceqa:3"}}


def context(sid: str) -> dict:
    return CTX.get(sid, {})


def key(sid: str, lang: str = "fr") -> str:
    return f"{sid}:{lang}"


# The human's work, in plain text, by id (editor None = leave the file's editor empty).
HUMAN = {
    key(ID_CAT): ("le chat est noir", "marie"),
    key(ID_APPLES): ("Il y a 42 belles pommes.", None),
    key(ID_HELLO, "de"): ("Hallo Welt", "marie"),  # same as machine: not an edit
}


# -- simulated editors, one per format --------------------------------------------------------


def fill_csv(path: Path, work: dict, delimiter: str = ";") -> None:
    """Edit in a spreadsheet and save with a European-locale delimiter."""
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    for row in rows:
        if row["id"] in work:
            row["edited"], editor = work[row["id"]]
            row["editor"] = editor or ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter=delimiter)
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def fill_jsonl(path: Path, work: dict) -> None:
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for obj in lines:
        if obj["id"] in work:
            obj["edited"], editor = work[obj["id"]]
            obj["editor"] = editor or ""
    path.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in lines),
                    encoding="utf-8")


def fill_labelstudio(path: Path, work: dict) -> None:
    """What Label Studio's JSON export looks like after annotators submitted."""
    tasks = json.loads(path.read_text(encoding="utf-8"))
    for number, task in enumerate(tasks, start=1):
        task["id"] = number  # Label Studio assigns its own task ids
        if task["data"]["id"] in work:
            text, editor = work[task["data"]["id"]]
            task["annotations"] = [{
                "id": 100 + number, "was_cancelled": False, "ground_truth": False,
                "completed_by": 7 if editor else {"id": 8, "email": "team@example.org"},
                "created_at": "2024-05-01T09:59:00.000000Z",
                "updated_at": "2024-05-01T10:00:00.123456Z",
                "result": [{"id": "r1", "from_name": "translation", "to_name": "source",
                            "type": "textarea", "origin": "manual", "value": {"text": [text]}}],
            }]
        else:
            task["annotations"] = []
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")


def fill_argilla(path: Path, work: dict) -> None:
    """What ``dataset.records.to_json()`` writes after annotators submitted responses."""
    records = json.loads(path.read_text(encoding="utf-8"))
    for record in records:
        record["_server_id"] = "3f1c0000-0000-0000-0000-000000000000"
        if record["id"] in work:
            text, editor = work[record["id"]]
            record["responses"] = {"translation": [
                {"value": text, "user_id": editor or "u-team", "status": "submitted"}]}
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")


FILLERS: dict[str, tuple[str, Callable[[Path, dict], None]]] = {
    "csv": ("work.csv", fill_csv),
    "jsonl": ("work.jsonl", fill_jsonl),
    "labelstudio": ("work.json", fill_labelstudio),
    "argilla": ("records.json", fill_argilla),
}


def export_and_fill(tmp_path: Path, fmt: str, work: dict = HUMAN) -> Path:
    name, fill = FILLERS[fmt]
    path = tmp_path / name
    assert export_worklist(translations(), path, format=fmt, unmask=unmask, context=context) == 4
    fill(path, work)
    return path


# -- export shapes ----------------------------------------------------------------------------


def test_csv_export_is_plain_flagged_first_with_empty_edit_column(tmp_path):
    path = tmp_path / "w.csv"
    export_worklist(translations(), path, format="csv", unmask=unmask, context=context)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert list(rows[0])[:11] == ["id", "language", "flagged", "failed_checks", "source",
                                  "machine_translation", "current_translation", "edited",
                                  "editor", "fields", "segment_id"]
    assert "context.example" in rows[0]
    first = rows[0]
    assert first["id"] == key(ID_APPLES) and first["flagged"] == "yes"
    assert first["source"] == "There are 42 apples."  # editors read plain text
    assert first["machine_translation"] == "Il y a 42 pommes."
    assert first["failed_checks"] == "length_ratio: target 0.4x the source"
    assert first["fields"] == "hint, question" and first["context.example"] == "scienceqa:3"
    assert [r["id"] for r in rows[1:]] == sorted(r["id"] for r in rows[1:])
    assert all(r["edited"] == "" and r["editor"] == "" for r in rows)
    hello = next(r for r in rows if r["id"] == key(ID_HELLO))
    assert (hello["machine_translation"], hello["current_translation"]) == (
        "Salut monde", "Bonjour le monde")


def test_jsonl_labelstudio_argilla_shapes(tmp_path):
    export_worklist(translations(), tmp_path / "w.jsonl", format="jsonl", unmask=unmask)
    first = json.loads((tmp_path / "w.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first["id"] == key(ID_APPLES) and first["flagged"] is True
    assert first["failed_checks"] == [{"check": "length_ratio", "reason": "target 0.4x the source",
                                       "severity": "error"}]
    assert first["edited"] == "" and first["editor"] == "" and first["context"] == {}

    export_worklist(translations(), tmp_path / "ls.json", format="labelstudio", unmask=unmask)
    task = json.loads((tmp_path / "ls.json").read_text(encoding="utf-8"))[0]
    assert set(task) == {"data", "predictions"}
    assert task["data"]["id"] == key(ID_APPLES) and task["data"]["source"] == "There are 42 apples."
    (result,) = task["predictions"][0]["result"]
    assert result == {"from_name": "translation", "to_name": "source", "type": "textarea",
                      "value": {"text": ["Il y a 42 pommes."]}}
    for name in ("$source", "$machine_translation", "$failed_checks", 'name="translation"'):
        assert name in LABEL_STUDIO_CONFIG

    export_worklist(translations(), tmp_path / "ar.json", format="argilla", unmask=unmask,
                    context=context)
    record = json.loads((tmp_path / "ar.json").read_text(encoding="utf-8"))[0]
    assert set(record) == {"id", "fields", "metadata", "suggestions", "responses", "vectors"}
    assert record["id"] == key(ID_APPLES)
    assert record["fields"]["source"] == "There are 42 apples."
    assert record["metadata"]["failed_checks"] == ["length_ratio"]
    assert record["metadata"]["context_example"] == "scienceqa:3"
    assert record["suggestions"] == {"translation": {"value": "Il y a 42 pommes.", "score": None,
                                                     "agent": "fake"}}
    assert detect_format(tmp_path / "ls.json") == "labelstudio"
    assert detect_format(tmp_path / "ar.json") == "argilla"


def test_export_refuses_duplicates_and_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="two translations"):
        export_worklist(translations() * 2, tmp_path / "w.csv", format="csv", unmask=unmask)
    with pytest.raises(ValueError, match="unknown work file format"):
        export_worklist(translations(), tmp_path / "w.xlsx", format="xlsx", unmask=unmask)


# -- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(FILLERS))
def test_round_trip_and_idempotent_reimport(tmp_path, fmt):
    path = export_and_fill(tmp_path, fmt)
    edits = import_edits(path, known=KNOWN, mask=mask, default_editor="team",
                         edited_at="2024-06-01T00:00:00Z")
    # The de "edit" equals the machine text: not an edit.
    assert sorted(e.key for e in edits) == sorted([key(ID_CAT), key(ID_APPLES)])
    with EditStore(tmp_path / "edits.sqlite") as store:
        assert store.apply(edits) == ApplyResult(added=2, changed=0, unchanged=0)
        cat = store.get(ID_CAT, "fr")
        assert (cat.text, cat.machine_text) == ("le chat est noir", "le chat noir")
        apples = store.get(ID_APPLES, "fr")
        assert apples.text == "Il y a ⟦0⟧ belles pommes."  # re-masked
        assert apples.machine_text == "Il y a ⟦0⟧ pommes."
        assert apples.source_file == path.name
        expected_editor = {"csv": ("marie", "team"), "jsonl": ("marie", "team"),
                           "labelstudio": ("labelstudio:7", "team@example.org"),
                           "argilla": ("marie", "u-team")}[fmt]
        assert (cat.editor, apples.editor) == expected_editor
        first_stamp = cat.edited_at
        if fmt == "labelstudio":
            assert first_stamp == "2024-05-01T10:00:00Z"
        else:
            assert first_stamp == "2024-06-01T00:00:00Z"
        assert store.get(ID_HELLO, "de") is None

        again = import_edits(path, known=KNOWN, mask=mask, default_editor="team",
                             edited_at="2025-01-01T00:00:00Z")
        assert store.apply(again) == ApplyResult(added=0, changed=0, unchanged=2)
        assert store.get(ID_CAT, "fr").edited_at == first_stamp  # no timestamp bump
        assert [e.key for e in store.all("fr")] == sorted([key(ID_CAT), key(ID_APPLES)])
        assert store.all("de") == []


def test_changed_edit_and_revert_of_an_earlier_post_edit(tmp_path):
    work = {key(ID_CAT): ("le chat est tout noir", "marie"),
            key(ID_HELLO): ("Salut monde", "marie")}  # back to the machine text: a revert
    path = export_and_fill(tmp_path, "jsonl", work)
    edits = {e.key: e for e in import_edits(path, known=KNOWN, mask=mask)}
    assert edits[key(ID_HELLO)].text == edits[key(ID_HELLO)].machine_text == "Salut monde"
    with EditStore(tmp_path / "edits.sqlite") as store:
        store.apply([Edit(ID_CAT, "fr", "le chat est noir", "le chat noir", "ann",
                          "2024-01-01T00:00:00Z")])
        assert store.apply(edits.values()) == ApplyResult(added=1, changed=1, unchanged=0)
        assert store.get(ID_CAT, "fr").text == "le chat est tout noir"
        assert store.get(ID_CAT, "fr").editor == "marie"


def test_store_is_wal_and_survives_reopen(tmp_path):
    path = tmp_path / "edits.sqlite"
    with EditStore(path) as store:
        store.apply([Edit(ID_CAT, "fr", "a", "b", "x", "2024-01-01T00:00:00Z")])
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with EditStore(path) as store:
        assert len(store) == 1 and store.get(ID_CAT, "fr").text == "a"


def test_apply_is_one_transaction(tmp_path):
    class Boom(Exception):
        pass

    def edits():
        yield Edit(ID_CAT, "fr", "a", "b", "x", "2024-01-01T00:00:00Z")
        raise Boom

    with EditStore(tmp_path / "edits.sqlite") as store:
        with pytest.raises(Boom):
            store.apply(edits())
        assert len(store) == 0


# -- HTER -------------------------------------------------------------------------------------


def test_hter_hand_computed():
    # Hypothesis "le chat noir" -> reference "le chat est noir": one insertion ("est"), reference
    # has 4 words, TER = 1/4 (sacrebleu: edits / reference length).
    result = corpus_hter([("le chat noir", "le chat est noir")])
    assert result["hter"] == pytest.approx(0.25)
    assert (result["n_segments"], result["n_edited"]) == (1, 1)
    assert result["per_segment"] == [pytest.approx(0.25)]
    # Capitalisation fixes are edits (sacrebleu lowercases by default; we do not).
    assert corpus_hter([("le chat", "Le chat")])["hter"] == pytest.approx(0.5)
    assert corpus_hter([])["hter"] is None


def test_store_hter_counts_untouched_segments(tmp_path):
    with EditStore(tmp_path / "edits.sqlite") as store:
        store.apply([Edit(ID_CAT, "fr", "le chat est noir", "le chat noir", "m",
                          "2024-01-01T00:00:00Z")])
        machine = {ID_CAT: "le chat noir", ID_APPLES: "Il y a ⟦0⟧ pommes."}
        result = store.hter("fr", machine)
    # 1 edit over 4 + 5 reference words: the untouched segment adds words, no edits.
    assert result["hter"] == pytest.approx(1 / 9)
    assert (result["n_segments"], result["n_edited"]) == (2, 1)
    assert result["per_segment"] == {ID_CAT: pytest.approx(0.25), ID_APPLES: 0.0}


# -- bad files: one error listing everything, nothing applied ---------------------------------


def test_bad_csv_lists_every_problem_and_applies_nothing(tmp_path):
    path = tmp_path / "work.csv"
    export_worklist(translations(), path, format="csv", unmask=unmask)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    by_id = {r["id"]: r for r in rows}
    by_id[key(ID_CAT)].update(edited="le chat est noir", editor="marie")  # fine on its own
    by_id[key(ID_APPLES)].update(edited="Il y a beaucoup de pommes.", editor="marie")  # lost 42
    by_id[key(ID_HELLO, "de")].update(language="fr", edited="Hallo, Welt", editor="marie")
    bogus = dict(by_id[key(ID_CAT)], id="0000000000000000:fr", edited="x")
    dup = dict(by_id[key(ID_CAT)], edited="le chat noir !")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows + [bogus, dup])
    path.write_text(out.getvalue(), encoding="utf-8")
    line_of = {r["id"]: n for n, r in enumerate(rows, start=2)}

    with EditStore(tmp_path / "edits.sqlite") as store:
        with pytest.raises(ImportProblemsError) as caught:
            store.apply(import_edits(path, known=KNOWN, mask=mask, unmask=unmask))
        assert len(store) == 0  # all or nothing
    error = caught.value
    assert isinstance(error, InputError) and error.file == str(path)
    found = {(p.where, p.field) for p in error.problems}
    assert found == {
        (f"line {line_of[key(ID_APPLES)]}", "edited"),
        (f"line {line_of[key(ID_HELLO, 'de')]}", "language"),
        (f"line {len(rows) + 2}", "id"),  # unknown id
        (f"line {len(rows) + 3}", "id"),  # duplicate id
    }
    message = str(error)
    assert "4 problem(s)" in message and "nothing was imported" in message
    assert f"work.csv line {line_of[key(ID_APPLES)]}, field 'edited'" in message
    assert "keep exactly: '42'" in message
    assert "unknown id 0000000000000000:fr" in message
    assert f"duplicate id {key(ID_CAT)} (first at line {line_of[key(ID_CAT)]})" in message


def test_bad_jsonl_reports_broken_json_and_missing_editor(tmp_path):
    path = export_and_fill(tmp_path, "jsonl", {key(ID_CAT): ("le chat est noir", None)})
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(1, "{not json")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ImportProblemsError) as caught:
        import_edits(path, known=KNOWN, mask=mask)  # no default editor either
    found = {(p.where, p.field) for p in caught.value.problems}
    cat_line = 1 + next(n for n, line in enumerate(lines) if ID_CAT in line)
    assert found == {("line 2", None), (f"line {cat_line}", "editor")}


def test_bad_labelstudio_export_names_task_indexes(tmp_path):
    path = export_and_fill(tmp_path, "labelstudio", {key(ID_APPLES): ("Il y a des pommes.", "x"),
                                                     key(ID_CAT): ("le chat est noir", "x")})
    tasks = json.loads(path.read_text(encoding="utf-8"))
    cat = next(i for i, t in enumerate(tasks) if t["data"]["id"] == key(ID_CAT))
    second = json.loads(json.dumps(tasks[cat]["annotations"][0]))
    second["completed_by"] = 9
    second["result"][0]["value"]["text"] = ["le chat, il est noir"]
    tasks[cat]["annotations"].append(second)  # two annotators disagree
    tasks[cat]["annotations"].append({**second, "was_cancelled": True})  # ignored
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ImportProblemsError) as caught:
        import_edits(path, known=KNOWN, mask=mask)
    found = {(p.where, p.field) for p in caught.value.problems}
    assert found == {("task[0]", "annotations[].result[].value.text"),  # 42 removed (flagged 1st)
                     (f"task[{cat}]", "annotations[].result[].value.text")}
    assert "disagree (by labelstudio:7, labelstudio:9)" in str(caught.value)


def test_empty_cells_mean_no_edit_and_unknown_json_is_refused(tmp_path):
    path = export_and_fill(tmp_path, "csv", {key(ID_CAT): ("   ", "marie")})
    assert import_edits(path, known=KNOWN, mask=mask) == []
    other = tmp_path / "other.json"
    other.write_text('{"rows": []}', encoding="utf-8")
    with pytest.raises(InputError, match="neither a Label Studio export"):
        import_edits(other, known=KNOWN, mask=mask)
