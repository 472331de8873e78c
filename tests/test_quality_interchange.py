"""Label Studio and Argilla round trips with simulated annotators, annotations JSONL, and bad files
rejected as a whole with every problem listed."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from babelvl.errors import InputError
from babelvl.quality.interchange import (AnnotationProblemsError, argilla_settings,
                                         export_argilla, export_labelstudio, import_argilla,
                                         import_labelstudio, labelstudio_config,
                                         read_annotations, write_annotations)
from babelvl.quality.protocols import load_protocol
from babelvl.quality.schema import Annotation, Assignment, SampleItem
from babelvl.translate.postedit import ImportProblemsError

ITEMS = [
    SampleItem("pope:fr:0:question", "fr", "pope", "question", "Is there a dog in the image?",
               "Y a-t-il un chien dans l'image ?", image_path="images/aa.png", overlap=True),
    SampleItem("pope:fr:1:question", "fr", "pope", "question", "Is there a cat?",
               "Y a-t-il un chat ?", image_path="images/bb.png"),
    SampleItem("mme:de:0:question", "de", "mme", "question", "Is the sky blue?",
               "Ist der Himmel blau?"),
]
ASSIGNMENTS = [Assignment("pope:fr:0:question", "ana"), Assignment("pope:fr:0:question", "ben"),
               Assignment("pope:fr:1:question", "ana"), Assignment("mme:de:0:question", "ben")]
USERS = {"ana@example.org": "ana", "labelstudio:2": "ben", "uuid-ana": "ana", "uuid-ben": "ben"}
BY_ID = {it.item_id: it for it in ITEMS}


def ls_annotation(user, result, *, lead_time=12.5, cancelled=False):
    return {"id": 1, "completed_by": user, "result": result, "was_cancelled": cancelled,
            "lead_time": lead_time, "created_at": "2024-05-01T09:59:00.000Z",
            "updated_at": "2024-05-01T10:00:00.123456Z"}


def labels(key, start, end, text, label, region="r1"):
    return {"id": region, "from_name": key, "to_name": "target", "type": "labels",
            "value": {"start": start, "end": end, "text": text, "labels": [label]}}


def control(name, kind, value):
    return {"from_name": name, "to_name": "target", "type": kind, "value": value}


def exported(tmp_path, fmt="labelstudio", protocol="esa", **kw):
    path = tmp_path / f"{fmt}-{protocol}.json"
    export = export_labelstudio if fmt == "labelstudio" else export_argilla
    export(ITEMS, ASSIGNMENTS, path, protocol=load_protocol(protocol), **kw)
    return path, json.loads(path.read_text(encoding="utf-8"))


def save(path: Path, data) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


# -- Label Studio ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["esa", "mqm", "likert", "postedit"])
def test_labelstudio_config_has_a_control_per_answer(name):
    protocol = load_protocol(name)
    root = ET.fromstring(labelstudio_config(protocol))
    named = {el.get("name"): el.tag for el in root.iter() if el.get("name")}
    assert named["source"] == "Text" and named["target"] == "Text" and named["image"] == "Image"
    for key in protocol.answer_keys():
        assert key in named
    assert "image" not in {el.get("name") for el in ET.fromstring(
        labelstudio_config(protocol, image=False)).iter()}
    if name == "likert":
        choices = [c.get("alias") for c in root.iter("Choice")]
        assert choices[:5] == ["5", "4", "3", "2", "1"]
    if name == "mqm":
        assert named["errors_severity"] == "Choices"


def test_labelstudio_esa_round_trip(tmp_path):
    path, tasks = exported(tmp_path, image_prefix="/data/local-files/?d=plan/")
    assert [t["data"]["id"] for t in tasks] == list(BY_ID)
    first = tasks[0]["data"]
    assert first["target"] == "Y a-t-il un chien dans l'image ? [MISSING]"
    assert first["image"] == "/data/local-files/?d=plan/images/aa.png"
    assert first["annotators"] == "ana, ben" and first["overlap"] == "yes"
    assert "image" not in tasks[2]["data"] and "predictions" not in tasks[0]

    target = ITEMS[0].target_text
    missing_at = len(target) + 1
    tasks[0]["annotations"] = [
        ls_annotation({"id": 1, "email": "ana@example.org"}, [
            labels("spans", 12, 17, "chien", "major", "r1"),
            labels("spans", missing_at, missing_at + 9, "[MISSING]", "minor", "r2"),
            control("score", "number", {"number": 40}),
            control("comment", "textarea", {"text": ["dog -> chien is fine, but..."]})]),
        ls_annotation(2, [control("score", "number", {"number": 90})], lead_time=3),
    ]
    tasks[1]["annotations"] = [ls_annotation(1, [], cancelled=True)]  # skipped
    tasks[2]["annotations"] = [ls_annotation(2, [control("score", "number", {"number": 100})])]
    annotations = import_labelstudio(save(path, tasks), items=ITEMS, protocol=load_protocol("esa"),
                                     assignments=ASSIGNMENTS, users=USERS)
    assert [(a.item_id, a.annotator) for a in annotations] == [
        ("pope:fr:0:question", "ana"), ("pope:fr:0:question", "ben"), ("mme:de:0:question", "ben")]
    ana = annotations[0]
    assert ana.values == {"score": 40, "comment": "dog -> chien is fine, but...", "spans": [
        {"start": 12, "end": 17, "severity": "major", "text": "chien"},
        {"start": None, "end": None, "severity": "minor"}]}
    assert ana.protocol == "esa" and ana.seconds == 12.5 and ana.created == "2024-05-01T10:00:00Z"
    assert annotations[1].values == {"score": 90, "spans": []}
    assert load_protocol("esa").score(annotations[1].values) == 90.0


def test_labelstudio_mqm_regions_and_likert_choices(tmp_path):
    path, tasks = exported(tmp_path, protocol="mqm")
    tasks[1]["annotations"] = [ls_annotation({"id": 1, "email": "ana@example.org"}, [
        labels("errors", 12, 16, "chat", "accuracy/mistranslation", "x1"),
        {"id": "x1", "from_name": "errors_severity", "to_name": "target", "type": "choices",
         "value": {"start": 12, "end": 16, "text": "chat", "choices": ["major"]}},
        labels("errors", 17, 18, "?", "fluency/punctuation", "x2"),
        {"id": "x2", "from_name": "errors_severity", "to_name": "target", "type": "choices",
         "value": {"start": 17, "end": 18, "choices": ["minor"]}}])]
    mqm = load_protocol("mqm")
    [annotation] = import_labelstudio(save(path, tasks), items=ITEMS, protocol=mqm, users=USERS)
    assert annotation.values["errors"] == [
        {"start": 12, "end": 16, "severity": "major", "category": "accuracy/mistranslation",
         "text": "chat"},
        {"start": 17, "end": 18, "severity": "minor", "category": "fluency/punctuation", "text": "?"}]
    assert mqm.score(annotation.values) == pytest.approx(-5.1)

    path, tasks = exported(tmp_path, protocol="likert")
    tasks[2]["annotations"] = [ls_annotation(2, [
        control("adequacy", "choices", {"choices": ["4"]}),  # the alias
        control("fluency", "choices", {"choices": ["5 – Flawless language"]})])]  # or the text
    [annotation] = import_labelstudio(save(path, tasks), items=ITEMS,
                                      protocol=load_protocol("likert"), users=USERS)
    assert annotation.values == {"adequacy": 4, "fluency": 5}


def test_labelstudio_postedit_per_annotator_export(tmp_path):
    path, tasks = exported(tmp_path, protocol="postedit", annotator="ben")
    assert [t["data"]["id"] for t in tasks] == ["pope:fr:0:question", "mme:de:0:question"]
    assert tasks[0]["data"]["annotator"] == "ben"
    assert tasks[1]["predictions"][0]["result"][0]["value"]["text"] == ["Ist der Himmel blau?"]
    tasks[1]["annotations"] = [ls_annotation(99, [
        control("post_edit", "textarea", {"text": ["Ist der Himmel  blau ? "]})])]
    postedit = load_protocol("postedit")
    # no users mapping: the per-annotator export names who the task was for
    [annotation] = import_labelstudio(save(path, tasks), items=ITEMS, protocol=postedit)
    assert annotation.annotator == "ben" and annotation.values == {"post_edit": "Ist der Himmel  blau ?"}
    assert postedit.score(annotation.values, target_text=ITEMS[2].target_text) == pytest.approx(2 / 5)
    with pytest.raises(InputError, match="'nobody' has no assigned item"):
        exported(tmp_path, protocol="postedit", annotator="nobody")


def test_labelstudio_bad_file_lists_every_problem(tmp_path):
    path, tasks = exported(tmp_path, protocol="mqm")
    tasks[0]["data"]["id"] = "pope:fr:9:question"
    tasks[0]["annotations"] = [ls_annotation(1, [])]
    ana = {"id": 1, "email": "ana@example.org"}
    tasks[1]["annotations"] = [
        ls_annotation(ana, [labels("errors", 0, 2, "Y ", "style", "q"),  # no severity chosen
                            labels("errors", 2, 4, "il", "style", "p"),  # text changed?
                            {"id": "p", "from_name": "errors_severity", "type": "choices",
                             "value": {"choices": ["minor"]}}]),
        ls_annotation(ana, [])]  # ana twice
    tasks[2]["annotations"] = [ls_annotation(ana, [])]  # not assigned
    tasks.append({"no": "data"})
    with pytest.raises(AnnotationProblemsError) as info:
        import_labelstudio(save(path, tasks), items=ITEMS, protocol=load_protocol("mqm"),
                           assignments=ASSIGNMENTS, users=USERS)
    error = info.value
    assert isinstance(error, ImportProblemsError) and isinstance(error, InputError)
    text = str(error)
    assert error.file == str(path) and "6 problem(s), nothing was imported" in text
    assert "task[0], field 'data.id': unknown item id 'pope:fr:9:question'" in text
    assert "task[1] annotations[0], field 'values': errors[0]: unknown severity None" in text
    assert ("task[1] annotations[0], field 'result': span 2-4 selects 'a-' in the sample's "
            "translation, but the tool says 'il'") in text
    assert "task[1] annotations[1], field 'annotator': second annotation of pope:fr:1:question by ana" in text
    assert "task[2] annotations[0], field 'annotator': ana was not assigned mme:de:0:question" in text
    assert "task[3], field 'data'" in text
    with pytest.raises(InputError, match="expected a JSON list of tasks"):
        import_labelstudio(save(tmp_path / "x.json", {"a": 1}), items=ITEMS,
                           protocol=load_protocol("mqm"))


# -- Argilla ---------------------------------------------------------------------------------


def response(user, value, status="submitted"):
    return {"user_id": user, "value": value, "status": status,
            "updated_at": "2024-05-02T08:00:00"}


def test_argilla_settings_follow_the_protocol():
    esa = argilla_settings(load_protocol("esa"))
    questions = {q["name"]: q for q in esa["questions"]}
    assert questions["score"]["type"] == "text"  # 0-100 is wider than a RatingQuestion
    assert questions["spans"] == {**questions["spans"], "type": "span", "field": "target",
                                  "labels": {"minor": "minor", "major": "major"}}
    likert = {q["name"]: q for q in argilla_settings(load_protocol("likert"))["questions"]}
    assert likert["adequacy"]["type"] == "rating" and likert["adequacy"]["values"] == [1, 2, 3, 4, 5]
    assert "All meaning" in likert["adequacy"]["description"]
    mqm = {q["name"]: q for q in argilla_settings(load_protocol("mqm"), image=False)["questions"]}
    assert mqm["errors"]["labels"]["accuracy/omission:critical"] == "accuracy/omission (critical)"
    assert [f["name"] for f in argilla_settings(load_protocol("mqm"), image=False)["fields"]] == [
        "source", "target"]


def test_argilla_round_trip(tmp_path):
    path, records = exported(tmp_path, fmt="argilla", protocol="esa")
    assert records[0]["id"] == "pope:fr:0:question"
    assert records[0]["fields"] == {"source": ITEMS[0].source_text, "image": "images/aa.png",
                                    "target": ITEMS[0].target_text + " [MISSING]"}
    assert records[0]["metadata"]["annotator"] == ["ana", "ben"]
    records[0]["responses"] = {
        "score": [response("uuid-ana", "35"), response("uuid-ben", "80")],
        "spans": [response("uuid-ana", [{"start": 12, "end": 17, "label": "major"}])],
        "comment": [response("uuid-ben", "ok")]}
    records[1]["responses"] = {"score": [response("uuid-ana", "50", status="draft")]}  # skipped
    annotations = import_argilla(save(path, records), items=ITEMS, protocol=load_protocol("esa"),
                                 assignments=ASSIGNMENTS, users=USERS)
    assert [(a.annotator, a.values) for a in annotations] == [
        ("ana", {"score": 35, "spans": [{"start": 12, "end": 17, "severity": "major",
                                         "text": "chien"}]}),
        ("ben", {"score": 80, "comment": "ok", "spans": []})]
    assert annotations[0].created == "2024-05-02T08:00:00Z" and annotations[0].seconds is None

    path, records = exported(tmp_path, fmt="argilla", protocol="postedit")
    assert records[2]["suggestions"]["post_edit"]["value"] == "Ist der Himmel blau?"
    records[2]["responses"] = {"post_edit": [response("uuid-ben", "Ist der Himmel blau?")]}
    [annotation] = import_argilla(save(path, records), items=ITEMS,
                                  protocol=load_protocol("postedit"), users=USERS)
    assert annotation.values == {"post_edit": "Ist der Himmel blau?"}

    path, records = exported(tmp_path, fmt="argilla", protocol="mqm")
    records[1]["responses"] = {"errors": [response("uuid-ana", [
        {"start": 12, "end": 16, "label": "accuracy/mistranslation:critical"}])]}
    [annotation] = import_argilla(save(path, records), items=ITEMS, protocol=load_protocol("mqm"),
                                  users=USERS)
    assert annotation.values["errors"] == [{"start": 12, "end": 16, "severity": "critical",
                                            "category": "accuracy/mistranslation", "text": "chat"}]


def test_argilla_bad_file_lists_every_problem(tmp_path):
    path, records = exported(tmp_path, fmt="argilla", protocol="likert")
    records[0]["responses"] = {"adequacy": [response("uuid-ana", 7)],
                               "fluency": [response("uuid-ana", 3)],
                               "mood": [response("uuid-ana", "happy")]}
    records[1]["id"] = "nope"
    records[1]["responses"] = {"adequacy": [response("uuid-ana", 3)]}
    records[2]["responses"] = {"adequacy": [response("uuid-ben", 3)]}  # fluency missing
    with pytest.raises(AnnotationProblemsError) as info:
        import_argilla(save(path, records), items=ITEMS, protocol=load_protocol("likert"),
                       users=USERS)
    text = str(info.value)
    assert "4 problem(s)" in text
    assert "record[0] user uuid-ana, field 'values': unknown answer 'mood'" in text
    assert "record[0] user uuid-ana, field 'values': 'adequacy' is 7, outside the scale 1-5" in text
    assert "record[1], field 'id': unknown item id 'nope'" in text
    assert "record[2] user uuid-ben, field 'values': 'fluency' is required" in text


# -- annotations.jsonl -----------------------------------------------------------------------


def annotation(item=0, annotator="ana", **values):
    return Annotation(ITEMS[item].item_id, annotator, "likert",
                      values or {"adequacy": 4, "fluency": 5}, seconds=3.5,
                      created="2024-05-01T10:00:00Z")


def test_annotations_jsonl_round_trip(tmp_path):
    path = tmp_path / "annotations.jsonl"
    records = [annotation(0, "ana"), annotation(0, "ben"),
               Annotation(ITEMS[1].item_id, "ana", "esa", {"score": 70, "spans": [
                   {"start": 0, "end": 1, "severity": "minor"}]})]
    assert write_annotations(path, records, items=ITEMS) == 3
    assert read_annotations(path, items=ITEMS) == records
    assert read_annotations(path) == records  # without items: no id check


def test_write_annotations_refuses_bad_records_and_writes_nothing(tmp_path):
    path = tmp_path / "annotations.jsonl"
    bad = [annotation(0, "ana"), annotation(0, "ana"), annotation(1, "ana", adequacy=9, fluency=1),
           Annotation("ghost:fr:0:q", "ana", "likert", {"adequacy": 1, "fluency": 1}),
           Annotation(ITEMS[2].item_id, "ana", "nonsense", {})]
    with pytest.raises(AnnotationProblemsError) as info:
        write_annotations(path, bad, items=ITEMS)
    text = str(info.value)
    assert "4 problem(s), nothing was written" in text
    assert "annotation[1], field 'annotator': second annotation of pope:fr:0:question by ana" in text
    assert "annotation[2], field 'values': 'adequacy' is 9, outside the scale 1-5" in text
    assert "annotation[3], field 'item_id': unknown item id 'ghost:fr:0:q'" in text
    assert "annotation[4], field 'protocol': unknown protocol 'nonsense'" in text
    assert not path.exists()


def test_read_annotations_lists_bad_lines_and_skips_a_torn_last_line(tmp_path):
    path = tmp_path / "annotations.jsonl"
    good = json.dumps(annotation(0, "ana").to_json())
    lines = [good, "{not json", json.dumps({**annotation(1).to_json(), "mood": 1}),
             json.dumps({"item_id": ITEMS[1].item_id}), good,
             json.dumps(annotation(2, "ben").to_json()), '{"item_id": "pope:fr:1:qu']
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(AnnotationProblemsError) as info:
        read_annotations(path, items=ITEMS)
    text = str(info.value)
    assert "4 problem(s), nothing was read" in text
    assert "line 2: not valid JSON" in text
    assert "line 3, field 'mood': unknown mood" in text
    assert "line 4, field 'annotator, protocol, values': missing annotator, protocol, values" in text
    assert ("line 5, field 'annotator': second annotation of pope:fr:0:question by ana "
            "(first at line 1)") in text
    assert "line 7" not in text  # torn last line: skipped with a warning
    path.write_text("\n".join([good, lines[5], lines[6]]), encoding="utf-8")
    assert [a.annotator for a in read_annotations(path, items=ITEMS)] == ["ana", "ben"]


def test_labelstudio_offsets_counted_in_utf16_are_converted(tmp_path):
    item = SampleItem("x:fr:0:caption", "fr", "x", "caption", "🐶 dog", "🐶 chien")
    path = tmp_path / "tasks.json"
    export_labelstudio([item], [Assignment(item.item_id, "ana")], path, protocol=load_protocol("esa"))
    tasks = json.loads(path.read_text(encoding="utf-8"))
    # the browser counts the emoji as two code units: "chien" is 3-8 there, 2-7 in Python
    tasks[0]["annotations"] = [ls_annotation(5, [labels("spans", 3, 8, "chien", "minor"),
                                                 control("score", "number", {"number": 60})])]
    [annotation] = import_labelstudio(save(path, tasks), items=[item], protocol=load_protocol("esa"),
                                      users={"labelstudio:5": "ana"})
    assert annotation.values["spans"] == [{"start": 2, "end": 7, "severity": "minor", "text": "chien"}]


def test_cli_maps_label_studio_user_ids_with_a_users_file(tmp_path, capsys):
    """A real Label Studio export names annotators by integer ``completed_by``: refused with a hint
    to --users, read with it; --labeling-config writes the XML beside the tasks."""
    from babelvl.cli import main

    plan = tmp_path / "plan"
    plan.mkdir()
    (plan / "items.jsonl").write_text("".join(json.dumps(i.to_json()) + "\n" for i in ITEMS))
    (plan / "assignments.jsonl").write_text("".join(json.dumps(a.__dict__) + "\n" for a in ASSIGNMENTS))
    tasks, config = tmp_path / "tasks.json", tmp_path / "likert.xml"
    assert main(["annotate", "export", "--plan", str(plan), "--protocol", "likert", "--format", "labelstudio",
                 "--out", str(tasks), "--labeling-config", str(config)]) == 0
    assert config.read_text() == labelstudio_config(load_protocol("likert"))
    data = json.loads(tasks.read_text())
    for task in data:
        if task["data"]["id"] == "pope:fr:0:question":
            task["annotations"] = [ls_annotation(user, [control("adequacy", "choices", {"choices": ["4"]}),
                                                         control("fluency", "choices", {"choices": ["5"]})])
                                   for user in (7, 9)]
    export = save(tmp_path / "export.json", data)
    out = tmp_path / "annotations.jsonl"
    command = ["annotate", "import", "--plan", str(plan), "--protocol", "likert", "--format", "labelstudio",
               "--data", str(export), "--out", str(out)]
    capsys.readouterr()
    assert main(command) == 2
    assert "--users" in capsys.readouterr().err and not out.exists()
    users = save(tmp_path / "users.json", {"7": "ana", "labelstudio:9": "ben"})
    assert main([*command, "--users", str(users)]) == 0
    assert {(a.annotator, a.values["adequacy"]) for a in read_annotations(out)} == {("ana", 4), ("ben", 4)}
    assert main([*command, "--users", str(save(tmp_path / "bad.json", {"7": ""}))]) == 2
    assert "bad.json" in capsys.readouterr().err
