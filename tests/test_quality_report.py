"""From a translated benchmark to a human-assessment report: plan -> annotations -> agreement -> report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from babelvl.cli import main
from babelvl.quality.agreement import krippendorff_alpha
from babelvl.quality.sampling import load_plan
from babelvl.testing.fixtures import write_pope
from babelvl.testing.openai_server import FakeVLMServer
from babelvl.testing.toy_translator import toy_translate
from babelvl.translate.pipeline import TranslateSpec, run_translate


@pytest.fixture(scope="module")
def translated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tr")
    rows = [{"id": str(i), "question_id": str(i), "question": f"Is there a {w} in the image?", "answer": "yes",
             "image_source": "x", "category": "random"} for i, w in enumerate(["cat", "dog", "car", "thing"] * 5)]
    data = write_pope(tmp / "pope.parquet", rows)
    with FakeVLMServer(toy_translate) as server:
        run_translate(TranslateSpec(data=str(data), languages=["fr", "de"], out_dir=tmp / "pope", benchmark="pope",
                                    engine="llm:openai:toy", engine_options={"base_url": server.base_url}))
    return tmp / "pope"


def _simulate(items, assignments, path):
    """Two annotators who mostly agree; German translations (word salad) get low adequacy."""
    lines = []
    for a in assignments:
        item = next(i for i in items if i.item_id == a.item_id)
        base = 4 if item.language == "fr" else 2
        bump = 1 if (a.annotator == "bo" and hash(item.item_id) % 5 == 0) else 0
        lines.append({"item_id": a.item_id, "annotator": a.annotator, "protocol": "likert",
                      "values": {"adequacy": min(5, base + bump), "fluency": base}, "seconds": 12.5,
                      "created": "2026-11-24T00:00:00Z"})
    path.write_text("".join(json.dumps(l) + "\n" for l in lines))
    return lines


def test_plan_agreement_and_report(translated, tmp_path, capsys):
    plan = tmp_path / "plan"
    assert main(["annotate", "plan", "--data", str(translated), "--annotators", "ana,bo", "--size", "12",
                 "--overlap", "0.5", "--seed", "3", "--out", str(plan)]) == 0
    items, assignments = load_plan(plan)
    assert len(items) == 12 and {i.language for i in items} == {"fr", "de"}
    overlap = [i for i in items if i.overlap]
    assert len(overlap) == 6 and all(sum(a.item_id == i.item_id for a in assignments) == 2 for i in overlap)
    annotations = tmp_path / "annotations.jsonl"
    lines = _simulate(items, assignments, annotations)

    capsys.readouterr()
    assert main(["annotate", "agreement", "--plan", str(plan), "--annotations", str(annotations),
                 "--protocol", "likert", "--draws", "200"]) == 0
    result = json.loads(capsys.readouterr().out)
    # The alpha babelvl reports equals Krippendorff's ordinal alpha computed here from the raw lines.
    ids = sorted(i.item_id for i in overlap)
    R = np.array([[next(l["values"]["adequacy"] for l in lines if l["item_id"] == i and l["annotator"] == r)
                   for r in ("ana", "bo")] for i in ids], dtype=float)
    expected = krippendorff_alpha(R, level="ordinal", labels=[1, 2, 3, 4, 5])
    got = result["adequacy"]["measures"]["krippendorff_alpha_ordinal"]
    assert got["value"] == pytest.approx(expected) and got["ci"][0] <= got["value"] <= got["ci"][1]

    out = tmp_path / "report"
    assert main(["annotate", "report", "--plan", str(plan), "--annotations", str(annotations),
                 "--protocol", "likert", "--draws", "200", "--out", str(out)]) == 0
    report = json.loads((out / "quality_assessment.json").read_text())
    assert report["scores_by_language"]["fr"]["mean"] > report["scores_by_language"]["de"]["mean"]
    assert report["verdicts"]["de"]["text"].startswith("not yet fit for release")
    assert "score" in report["verdicts"]["de"]["failing"]
    md = (out / "quality_assessment.md").read_text()
    assert "## Agreement" in md and "krippendorff_alpha_ordinal" in md and "## Worst items" in md
    assert "<table>" in (out / "quality_assessment.html").read_text()
    assert (out / "scores_by_language.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_annotations_are_refused_with_file_and_line(translated, tmp_path, capsys):
    plan = tmp_path / "plan"
    main(["annotate", "plan", "--data", str(translated), "--annotators", "ana,bo", "--size", "6", "--overlap", "0.5",
          "--out", str(plan)])
    items, _ = load_plan(plan)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"item_id": items[0].item_id, "annotator": "ana", "protocol": "likert",
                               "values": {"adequacy": 9, "fluency": 3}}) + "\n")
    assert main(["annotate", "report", "--plan", str(plan), "--annotations", str(bad), "--protocol", "likert",
                 "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl" in err and "line 1" in err and "adequacy" in err


def test_post_edits_from_the_assessment_flow_back_into_the_translation(translated, tmp_path):
    plan = tmp_path / "plan"
    main(["annotate", "plan", "--data", str(translated), "--annotators", "ana,bo", "--size", "4", "--overlap", "0",
          "--languages", "fr", "--out", str(plan)])
    items, assignments = load_plan(plan)
    item = items[0]
    annotations = tmp_path / "pe.jsonl"
    annotations.write_text(json.dumps({"item_id": item.item_id, "annotator": "ana", "protocol": "postedit",
                                       "values": {"post_edit": "Y a-t-il un chat sur l'image ?"}}) + "\n")
    work = tmp_path / "work.jsonl"
    assert main(["annotate", "to-postedit", "--plan", str(plan), "--annotations", str(annotations),
                 "--data", str(translated), "--out", str(work), "--protocol", "postedit"]) == 0
    assert main(["postedit", "import", "--data", str(translated), "--edits", str(work)]) == 0
    import pyarrow.parquet as pq

    rows = pq.read_table(next((translated / "fr").glob("*.parquet"))).to_pylist()
    edited = [r for r in rows if r["question"] == "Y a-t-il un chat sur l'image ?"]
    # the same segment is shared by every row with that source question: all of them get the edit
    source_question = item.source_text
    expected = sum(1 for r in pq.read_table(next((translated / "en").glob("*.parquet"))).to_pylist()
                   if r["question"] == source_question)
    assert len(edited) == expected > 0
