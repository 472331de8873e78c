"""Every command in README.md's ```bash blocks runs, in order, in one working folder, as a new user would type it.

The README cannot drift from the code: a renamed flag, a changed output path or a broken step fails here. What a
CPU machine without internet cannot run gets a named stand-in, listed in :data:`STAND_INS` with the reason:
- a GPU model server (``vllm serve``) -> the loopback OpenAI-compatible server with the demo responder
  (:mod:`babelvl.testing.demo_responder`), at the address the README uses;
- a model or dataset on the Hugging Face Hub -> a tiny random-weight model built from a config / the sample data;
- the setup and test commands themselves, and a web server that runs until stopped (tested in its own tests).
Everything else runs as written; a command that is not in the table and fails, fails the test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@dataclass(frozen=True)
class StandIn:
    pattern: str  # regex searched in the command
    replacement: Any  # None: the command is not run; else re.sub replacement ({server}, {tiny} expand)
    reason: str
    prepare: str | None = None  # a function of this module run before the command (makes what people would)


PIXMO_SAMPLE = {"cap": "cap", "ama": "ama", "cosyn": "cosyn-chart"}


STAND_INS: tuple[StandIn, ...] = (
    StandIn(r"^pip install ", None, "the setup command: this test runs in the environment it made"),
    StandIn(r"^python -m pytest", None, "the test command: this test is part of it"),
    StandIn(r"^vllm serve ", None, "a GPU model server; the loopback demo server listens at its address instead"),
    StandIn(r"babelvl annotate serve", None, "runs until stopped; the app is tested in tests/test_quality_app*.py"),
    StandIn(r"https?://localhost:800\d/v1", "{server}", "the demo server's address"),
    StandIn(r"HuggingFaceTB/SmolVLM-256M-Instruct", "{tiny}", "a Hub model -> a tiny random-weight LLaVA"),
    StandIn(r"\s--device cuda --dtype bfloat16", "", "no GPU here"),
    StandIn(r"^(babelvl eval (?!.*--(?:suite|data)\b).*)$", r"\1 --suite sample",
            "Hub benchmark data -> the sample suite in the same schemas"),
    StandIn(r"lmms-lab/(MMBench|POPE|MME|ScienceQA|ai2d)(?: --subset \S+)?(?: --split \S+)?",
            lambda m: f"sample-data/{m.group(1).lower()}/en.parquet",
            "a Hub benchmark -> the sample suite in the same schema"),
    StandIn(r"--fallback-engine mt:\S+", "", "a Hub MT model; the fallback path is tested in test_translate_*"),
    StandIn(r"^(babelvl build-pixmo --recipe (cap|ama|cosyn)(?!.*--data\b).*)$",
            lambda m: f"{m.group(1)} --data sample-data/pixmo/{PIXMO_SAMPLE[m.group(2)]}.parquet"
                      " --mirror sample-data/pixmo/images",
            "a Hub PixMo source -> the sample rows, their image URLs answered by the sample mirror folder"),
    StandIn(r"^(babelvl mix (?!.*--image-dir).*)$", r"\1 --image-dir sample-data/pixmo/images",
            "images found in a --mirror stay there (a real build downloads them into OUT/images)"),
    StandIn(r"--budget 20000\b", "--budget 8", "the sample data holds a few rows, not 20,000"),
    StandIn(r"--size 300\b", "--size 40", "the sample translations hold fewer than 300 items"),
    StandIn(r"--annotations annotations\.jsonl", r"\g<0>", "annotators' work in the app -> simulated judgements",
            prepare="simulate_annotations"),
    StandIn(r"--format labelstudio --data export\.json", None,
            "needs a Label Studio export: benchmarks/label_studio_roundtrip.py makes one with real Label Studio"),
)


def simulate_annotations(work: Path) -> None:
    """Three annotators' ESA judgements of the plan, in the app's export format (written once)."""
    import json

    target = work / "annotations.jsonl"
    if target.exists():
        return
    from babelvl.quality.sampling import load_plan

    items, assignments = load_plan(work / "plan")
    lines = []
    for a in assignments:
        base = 80 if hash(a.item_id) % 3 else 40
        lines.append({"item_id": a.item_id, "annotator": a.annotator, "protocol": "esa",
                      "values": {"score": base + {"ana": 0, "bo": 5, "carla": -5}.get(a.annotator, 0), "spans": []},
                      "seconds": 10.0, "created": "2026-11-28T00:00:00Z"})
    target.write_text("".join(json.dumps(line) + "\n" for line in lines))


def bash_commands(text: str) -> list[tuple[int, str]]:
    """(line number, command) for each command of each ```bash block; continuation lines joined, comments
    and blank lines dropped."""
    out: list[tuple[int, str]] = []
    in_block = False
    pending: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith("```"):
            in_block = line.strip() == "```bash" if not in_block else False
            continue
        if not in_block:
            continue
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        out.append((start, " ".join(pending)))
        pending = []
    return out


def apply_stand_ins(command: str, values: dict[str, str]) -> tuple[str | None, list[str], list[str]]:
    """The command to run (None: not run), the reasons of the stand-ins used, and the prepare hooks to call."""
    used, prepare = [], []
    for stand_in in STAND_INS:
        if re.search(stand_in.pattern, command):
            used.append(stand_in.reason)
            if stand_in.replacement is None:
                return None, used, prepare
            if stand_in.prepare:
                prepare.append(stand_in.prepare)
            replacement = stand_in.replacement
            if isinstance(replacement, str):
                replacement = replacement.format(**values) if "{" in replacement else replacement
            command = re.sub(stand_in.pattern, replacement, command)
    return command, used, prepare


def test_bash_blocks_are_parsed():
    commands = bash_commands("x\n```bash\n# c\nbabelvl a \\\n    --b 1   # note\n\nbabelvl c\n```\n```python\nno\n```\n")
    assert commands == [(4, "babelvl a --b 1   # note"), (7, "babelvl c")]


@pytest.mark.slow
def test_every_readme_command_runs(tmp_path: Path):
    from babelvl.testing.demo_responder import demo_answer
    from babelvl.testing.openai_server import FakeVLMServer
    from babelvl.testing.tiny_models import build_tiny_vlm

    tiny = build_tiny_vlm("llava", tmp_path / "models" / "tiny-llava")
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "MPLBACKEND": "Agg",
           "TOKENIZERS_PARALLELISM": "false", "BABELVL_ADMIN_PASSWORD": "correct horse battery staple 9",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    commands = bash_commands(README.read_text(encoding="utf-8"))
    assert len(commands) > 10
    ran, skipped = 0, []
    with FakeVLMServer(demo_answer) as server:
        values = {"server": server.base_url, "tiny": str(tiny)}
        for line, command in commands:
            runnable, reasons, prepare = apply_stand_ins(command, values)
            if runnable is None:
                skipped.append((line, reasons[-1]))
                continue
            for hook in prepare:
                globals()[hook](work)
            result = subprocess.run(["bash", "-c", "set -euo pipefail\n" + runnable], cwd=work, env=env,
                                    capture_output=True, text=True, timeout=900)
            assert result.returncode == 0, (
                f"README.md line {line}: {command}\nran: {runnable}\nexit {result.returncode}\n"
                f"stdout: {result.stdout[-3000:]}\nstderr: {result.stderr[-3000:]}")
            ran += 1
    assert ran >= 10, skipped
