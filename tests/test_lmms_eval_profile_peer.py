"""The `lmms-eval` profile against lmms-eval itself (PyPI, in its own venv): same reading AND same aggregation.

lmms-eval's own task functions (``pope_process_results`` + ``pope_aggregate_*``, ``mme_process_results`` +
``mme_aggregate_results``, ``sqa_process_results``) score fixture answers written in the styles that make the
profiles differ (chatty, hedged, empty, "y", chain of thought); babelvl's profile must give the same numbers.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from babelvl.benchmarks.base import Item
from babelvl.benchmarks.registry import get_benchmark
from babelvl.eval.scoring import score_responses

PEER_SCRIPT = r"""
import json, sys
from lmms_eval.tasks.pope import utils as pope
from lmms_eval.tasks.mme import utils as mme
from lmms_eval.tasks.scienceqa import utils as sqa
job = json.load(sys.stdin)
out = {"pope": {}, "mme": {}, "scienceqa": None}
per = {}
for doc, resp in zip(job["pope"]["docs"], job["pope"]["responses"]):
    r = pope.pope_process_results(doc, [resp.strip()])["pope_accuracy"]
    per.setdefault(doc["category"], []).append(r)
    per.setdefault("overall", []).append(r)
for split, rs in per.items():
    out["pope"][split] = {"accuracy": pope.pope_aggregate_accuracy(rs), "precision": pope.pope_aggregate_precision(rs),
                          "recall": pope.pope_aggregate_recall(rs), "f1": pope.pope_aggregate_f1_score(rs),
                          "yes_ratio": pope.pope_aggregate_yes_ratio(rs)}
groups = {}
for doc, resp in zip(job["mme"]["docs"], job["mme"]["responses"]):
    for key, value in mme.mme_process_results(doc, [resp.strip()]).items():
        groups.setdefault(key, []).append(value)
out["mme"] = {key: mme.mme_aggregate_results(values) for key, values in groups.items()}
scores = [sqa.sqa_process_results(doc, [resp.strip()])["exact_match"]
          for doc, resp in zip(job["scienceqa"]["docs"], job["scienceqa"]["responses"])]
out["scienceqa"] = sum(scores) / len(scores)
print(json.dumps(out))
"""

POPE = [("adversarial", "yes", "Yes"), ("adversarial", "yes", "There is a dog in the image."),
        ("adversarial", "no", "No"), ("adversarial", "no", "yes"), ("popular", "yes", "yes."),
        ("popular", "yes", "no"), ("popular", "no", "I'm not sure."), ("popular", "no", ""),
        ("random", "yes", "  Yes "), ("random", "no", "NO"), ("random", "no", "Nope"), ("random", "yes", "Y")]
MME = [("existence/1.png", "existence", "Yes", "Yes, there is a dog."), ("existence/1.png", "existence", "No", "no"),
       ("existence/2.png", "existence", "Yes", "y"), ("existence/2.png", "existence", "No", "None."),
       ("code_reasoning/3.png", "code_reasoning", "Yes", "The code prints 3."),
       ("code_reasoning/3.png", "code_reasoning", "No", "No."),
       ("code_reasoning/4.png", "code_reasoning", "No", "nope"), ("code_reasoning/4.png", "code_reasoning", "Yes", "")]
SQA = [(["Solution A", "Solution B"], 0, "A"), (["sample A", "sample B", "neither"], 2, "C. neither"),
       (["-24°C", "24°C"], 0, "A) -24°C"), (["Boston", "Concord"], 1, "The answer is B."),
       (["north", "south"], 1, "b"), (["x", "y", "z"], 2, "")]


def _items():
    pope = [Item("pope", "en", f"{c}-{i}", i, f"Is there a thing {i}?", g, category=c,
                 meta={"question_id": str(i)}) for i, (c, g, _) in enumerate(POPE)]
    mme = [Item("mme", "en", f"{q}#{i % 2}", i, "Q? Please answer yes or no.", g.lower(), category=c,
                meta={"image_id": q}) for i, (q, c, g, _) in enumerate(MME)]
    sqa = [Item("scienceqa", "en", f"sqa-{i}", i, "Q?", chr(65 + a), options={chr(65 + k): t for k, t in enumerate(ch)})
           for i, (ch, a, _) in enumerate(SQA)]
    return pope, mme, sqa


@pytest.mark.slow
def test_lmms_eval_profile_matches_lmms_eval():
    from babelvl.interop.peer_specs import lmms_eval_python

    job = {"pope": {"docs": [{"question_id": str(i), "answer": g, "category": c} for i, (c, g, _) in enumerate(POPE)],
                    "responses": [r for *_, r in POPE]},
           "mme": {"docs": [{"question_id": q, "answer": g, "category": c} for q, c, g, _ in MME],
                   "responses": [r for *_, r in MME]},
           "scienceqa": {"docs": [{"choices": ch, "answer": a} for ch, a, _ in SQA],
                         "responses": [r for *_, r in SQA]}}
    proc = subprocess.run([str(lmms_eval_python()), "-c", PEER_SCRIPT], input=json.dumps(job), text=True,
                          capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    theirs = json.loads(proc.stdout.strip().splitlines()[-1])

    pope, mme, sqa = _items()
    ours = score_responses(get_benchmark("pope"), pope, {it.id: r for it, (*_, r) in zip(pope, POPE)}, "en",
                           "lmms-eval").metrics
    for split, metrics in theirs["pope"].items():
        for key, value in metrics.items():
            assert ours[split][key] == pytest.approx(value), (split, key)
    ours = score_responses(get_benchmark("mme"), mme, {it.id: r for it, (*_, r) in zip(mme, MME)}, "en",
                           "lmms-eval").metrics
    assert ours["perception"] == pytest.approx(theirs["mme"]["mme_perception_score"])
    assert ours["cognition"] == pytest.approx(theirs["mme"]["mme_cognition_score"])
    ours = score_responses(get_benchmark("scienceqa"), sqa, {it.id: r for it, (*_, r) in zip(sqa, SQA)}, "en",
                           "lmms-eval").metrics
    assert ours["accuracy"] == pytest.approx(theirs["scienceqa"])
    # the fixture does exercise the difference: lmms-eval's POPE recall differs from the official one
    official = score_responses(get_benchmark("pope"), pope, {it.id: r for it, (*_, r) in zip(pope, POPE)}, "en",
                               "vlmevalkit").metrics
    assert official["overall"]["recall"] != pytest.approx(theirs["pope"]["overall"]["recall"])
