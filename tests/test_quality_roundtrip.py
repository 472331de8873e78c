"""A study run end to end, for every protocol: annotate in the app (its real FastAPI routes) -> the
admin's export -> ``annotate agreement`` and ``annotate report`` read every annotation.

One protocol definition drives it all: the app's forms and checks come from the same YAML file that
the analysis reads, so nothing an annotator can submit is refused later (issue: the app's own MQM
categories once made the analysis refuse a whole MQM study).
"""

from __future__ import annotations

import html
import json
import random
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_quality_app import PASSWORD, hidden, item_path, login

from babelvl.cli import main
from babelvl.quality.app import create_admin, create_app, create_user
from babelvl.quality.protocols import load_protocol
from babelvl.quality.schema import Assignment, SampleItem

ANNOTATORS = ("ana", "bo", "cy")
OFFSET = {"ana": 0.0, "bo": -0.08, "cy": 0.05}
"""Lenient and harsh annotators, as in real studies (what z-scores remove)."""

CUSTOM = """\
name: mqm-lite
kind: mqm
title: Light error annotation
instructions: Mark each error with a category and a severity; mark omissions on the <gap> token.
spans:
  key: issues
  severities:
    minor: Noticeable but harmless.
    major: Changes the meaning.
  categories:
    accuracy: The meaning differs from the source.
    fluency: The text reads badly.
  missing_token: "<gap>"
weights: {minor: 1, major: 5}
scales:
  - name: overall
    min: 1
    max: 3
    widget: choices
    anchors: {1: bad, 2: usable, 3: good}
fields:
  - name: comment
"""


def _plan(tmp_path: Path) -> tuple[Path, list[SampleItem], list[Assignment], dict[str, float]]:
    """12 items in de and fr; 4 per language judged by all three annotators, the rest by one."""
    items, assignments, quality = [], [], {}
    rng = random.Random(7)
    for language in ("de", "fr"):
        for i in range(6):
            item_id = f"mme:{language}:{i}:question"
            target = f"Welche Farbe hat das Auto {i}?" if language == "de" else f"Quelle est la couleur {i} ?"
            items.append(SampleItem(item_id, language, "mme", "question", f"What colour is the car {i}?",
                                    target, overlap=i < 4))
            quality[item_id] = rng.random() if language == "de" else 0.5 + rng.random() / 2
            owners = ANNOTATORS if i < 4 else (ANNOTATORS[i % 3],)
            assignments += [Assignment(item_id, who) for who in owners]
    plan = tmp_path / "plan"
    plan.mkdir()
    (plan / "items.jsonl").write_text("".join(json.dumps(it.to_json()) + "\n" for it in items))
    (plan / "assignments.jsonl").write_text("".join(json.dumps(a.__dict__) + "\n" for a in assignments))
    return plan, items, assignments, quality


def _answers(protocol_name: str, item: SampleItem, q: float, rng: random.Random) -> dict[str, str]:
    """The form fields an annotator of quality judgement ``q`` (0-1) submits."""
    first = item.target_text.index(" ")
    if protocol_name == "esa":
        spans: list[dict[str, Any]] = []
        if q < 0.5:
            spans.append({"start": 0, "end": first, "severity": "major"})
        if q < 0.3:
            spans.append({"start": None, "end": None, "severity": "minor"})  # on [MISSING]
        return {"score": str(max(0, min(100, round(100 * q + rng.gauss(0, 6))))), "spans": json.dumps(spans),
                "comment": "checked"}
    if protocol_name in ("mqm", "mqm-lite"):
        key = "errors" if protocol_name == "mqm" else "issues"
        accuracy = "accuracy/mistranslation" if protocol_name == "mqm" else "accuracy"
        omission = "accuracy/omission" if protocol_name == "mqm" else "accuracy"
        fluency = "fluency/punctuation" if protocol_name == "mqm" else "fluency"
        errors: list[dict[str, Any]] = []
        if q < 0.5:
            errors.append({"start": 0, "end": first, "severity": "major", "category": accuracy})
        if q < 0.8:
            errors.append({"start": len(item.target_text) - 1, "end": len(item.target_text),
                           "severity": "minor", "category": fluency})
        if q < 0.25:
            errors.append({"start": None, "end": None, "severity": "major", "category": omission})
        answers = {key: json.dumps(errors)}
        if protocol_name == "mqm-lite":
            answers["overall"] = str(1 + min(2, int(3 * q)))
        return answers
    if protocol_name == "likert":
        rate = lambda: str(max(1, min(5, round(1 + 4 * q + rng.gauss(0, 0.4)))))  # noqa: E731
        return {"adequacy": rate(), "fluency": rate()}
    edited = item.target_text if q >= 0.5 else item.target_text.replace(item.target_text[:first], "Was", 1)
    return {"post_edit": edited}


@pytest.mark.parametrize("protocol_name", ["esa", "mqm", "likert", "postedit", "mqm-lite"])
def test_a_study_run_in_the_app_is_read_whole_by_agreement_and_report(
        protocol_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    user_protocols = tmp_path / "protocols"
    user_protocols.mkdir()
    (user_protocols / "mqm-lite.yaml").write_text(CUSTOM)
    monkeypatch.setenv("BABELVL_PROTOCOL_PATH", str(user_protocols))  # a team's own protocol, by name
    plan, items, assignments, quality = _plan(tmp_path)
    protocol = load_protocol(protocol_name)
    db = tmp_path / "app.sqlite"
    create_admin(db, "admin", PASSWORD)
    for name in ANNOTATORS:
        create_user(db, name, PASSWORD)
    app = create_app(db)

    admin = TestClient(app)
    csrf = login(admin, "admin")
    assert protocol_name in admin.get("/admin").text  # offered by name, user folder included
    created = admin.post("/admin/projects", data={"csrf_token": csrf, "name": "study", "protocol": protocol_name},
                         follow_redirects=False)
    assert created.status_code == 303, created.text
    imported = admin.post("/admin/projects/study/import", data={"csrf_token": csrf}, follow_redirects=False,
                          files={"items": ("items.jsonl", (plan / "items.jsonl").read_bytes()),
                                 "assignments": ("assignments.jsonl", (plan / "assignments.jsonl").read_bytes())})
    assert imported.status_code == 303, imported.text

    rng = random.Random(protocol_name)
    by_id = {it.item_id: it for it in items}
    for name in ANNOTATORS:
        client = TestClient(app)
        login(client, name)
        for a in (a for a in assignments if a.annotator == name):
            page = client.get(item_path("study", a.item_id))
            assert page.status_code == 200
            text = html.unescape(page.text)
            assert protocol.instructions in text  # the protocol's own words on the annotator's page
            if protocol.spans:
                assert protocol.spans.missing_token in text
                for definition in [*protocol.spans.severities.values(), *protocol.spans.categories.values()]:
                    assert definition in text
            for category in protocol.categories:
                assert f'<option value="{category}"' in text
            form = {"csrf_token": hidden(page.text, "csrf_token"), "served": hidden(page.text, "served")}
            q = max(0.0, min(1.0, quality[a.item_id] + OFFSET[name]))
            r = client.post(item_path("study", a.item_id), data={**form, **_answers(protocol_name, by_id[a.item_id], q, rng)},
                            follow_redirects=False)
            assert r.status_code == 303, html.unescape(r.text)[:2000]

    export = admin.get("/admin/projects/study/export")
    assert export.status_code == 200
    annotations = tmp_path / "annotations.jsonl"
    annotations.write_text(export.text)
    exported = [json.loads(line) for line in export.text.splitlines()]
    assert len(exported) == len(assignments)
    if protocol.spans and protocol_name != "likert":
        assert any(s["start"] is None for e in exported for s in e["values"][protocol.spans.key]), \
            "a span on the missing token travels as a span without position"
    stored = tmp_path / f"{protocol_name}.yaml"
    stored.write_text(admin.get("/admin/projects/study/protocol.yaml").text)
    assert load_protocol(stored) == protocol  # the project's copy is the very same definition

    results = []
    for spec in (protocol_name, str(stored)):  # by name, and the file downloaded from the project
        capsys.readouterr()
        assert main(["annotate", "agreement", "--plan", str(plan), "--annotations", str(annotations),
                     "--protocol", spec, "--draws", "100"]) == 0, capsys.readouterr().err
        results.append(json.loads(capsys.readouterr().out))
    agreement = results[0]
    assert results[1] == agreement
    measured = [s.name for s in protocol.scales] + (["score"] if protocol.kind in ("mqm", "postedit") else [])
    for name in measured:
        block = agreement[name]
        assert block["n_items"] == 8 and set(block["by_language"]) == {"de", "fr"}
        assert all(block["by_language"][lang]["n_items"] == 4 for lang in ("de", "fr"))
    if protocol.spans:
        assert agreement["spans"]["all"]["n_items"] == 8

    out = tmp_path / "report"
    assert main(["annotate", "report", "--plan", str(plan), "--annotations", str(annotations),
                 "--protocol", protocol_name, "--draws", "100", "--out", str(out)]) == 0
    report = json.loads((out / "quality_assessment.json").read_text())
    assert report["n_annotations"] == len(assignments) and report["n_items"] == len(items)
    assert sorted(report["annotators"]) == list(ANNOTATORS)
    for lang in ("de", "fr"):
        summary = report["scores_by_language"][lang]
        assert summary["n_items"] == 6 and summary["n_judgements"] == 14  # 4 x 3 overlap + 2 single
        assert summary["ci"][0] <= summary["mean"] <= summary["ci"][1]
        assert set(report["verdicts"][lang]) == {"fit", "failing", "text"}
