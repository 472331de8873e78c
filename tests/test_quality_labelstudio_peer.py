"""Label Studio's own parser (``label_studio_sdk.label_interface.LabelInterface``, PyPI label-studio-sdk, the
library the Label Studio server validates configs with) accepts the labeling config babelvl writes for every
protocol, the tasks it exports, the prefilled post-edit prediction, and the annotation results its editor
produces; it refuses a broken config, so the check can fail.

The whole server round trip (project, import, annotate, export, ``annotate import --users``) runs in
``benchmarks/label_studio_roundtrip.py``: the server is too slow to install and start for every CI run.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

from babelvl.quality.interchange import export_labelstudio, labelstudio_config
from babelvl.quality.protocols import load_protocol
from babelvl.quality.schema import Assignment, SampleItem

SDK = "label-studio-sdk==2.1.2"
"""The version Label Studio 1.23.2 (the benchmark's server) installs."""
ROOT = Path(__file__).resolve().parents[1]
ITEMS = [SampleItem(f"mme:de:{i}:question", "de", "mme", "question", "What colour is the car?",
                    "Welche Farbe hat das Auto?", image_path=f"images/{i}.png") for i in range(2)]

PEER_SCRIPT = r'''
import json, sys
from label_studio_sdk.label_interface import LabelInterface

cases = json.load(open(sys.argv[1]))
out = {}
for name, case in cases.items():
    interface = LabelInterface(case["config"])
    interface.validate()
    out[name] = {
        "controls": sorted(c.name for c in interface.controls),
        # every $variable of the config is in the task's data (predictions are checked one by one below:
        # validate_task's own prediction branch calls validate_prediction() without its argument in 2.1.2)
        "tasks": [interface.validate_task({"data": t["data"]}) for t in case["tasks"]],
        "predictions": [interface.validate_prediction(p, return_errors=True) for t in case["tasks"]
                        for p in t.get("predictions", [])],
        "regions": [interface.validate_region(r, return_errors=True) for r in case["result"]],
    }
try:
    LabelInterface('<View><Text name="target" value="$target"/>'
                   '<Labels name="spans" toName="nowhere"><Label value="minor"/></Labels></View>').validate()
    out["broken refused"] = False
except Exception:
    out["broken refused"] = True
json.dump(out, open(sys.argv[2], "w"))
'''


def _benchmark_answer():  # the editor results the benchmark posts to the real server
    spec = importlib.util.spec_from_file_location("ls_roundtrip", ROOT / "benchmarks" / "label_studio_roundtrip.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.answer


def test_label_studio_parser_accepts_our_configs_tasks_and_results(tmp_path: Path) -> None:
    from babelvl.testing.peers import peer_python

    python = peer_python("label-studio-sdk", [SDK])
    answer = _benchmark_answer()
    cases = {}
    for name in ("esa", "mqm", "likert", "postedit"):
        protocol = load_protocol(name)
        tasks_file = tmp_path / f"{name}.json"
        export_labelstudio(ITEMS, [Assignment(i.item_id, "ana") for i in ITEMS], tasks_file, protocol=protocol)
        tasks = json.loads(tasks_file.read_text())
        result, _ = answer(name, tasks[0]["data"]["target"])
        cases[name] = {"config": labelstudio_config(protocol), "tasks": tasks, "result": result}
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    (tmp_path / "peer.py").write_text(PEER_SCRIPT)
    run = subprocess.run([str(python), str(tmp_path / "peer.py"), str(tmp_path / "cases.json"),
                          str(tmp_path / "out.json")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads((tmp_path / "out.json").read_text())
    assert out.pop("broken refused") is True
    for name, checked in out.items():
        protocol = load_protocol(name)
        expected = {s.name for s in protocol.scales} | {f.name for f in protocol.fields}
        if protocol.spans:
            expected |= {protocol.spans.key} | ({f"{protocol.spans.key}_severity"} if protocol.categories else set())
        assert set(checked["controls"]) == expected, name
        assert all(checked["tasks"]), name
        assert all(errors == [] for errors in checked["predictions"]), (name, checked["predictions"])
        assert all(errors == [] for errors in checked["regions"]), (name, checked["regions"])
    assert out["postedit"]["predictions"], "the post-edit field is prefilled with the translation"
