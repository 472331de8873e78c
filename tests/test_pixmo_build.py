"""``babelvl build-pixmo`` end to end on fixtures in the real schemas.

Model servers are ``FakeVLMServer``: a real OpenAI-compatible HTTP server on loopback, the test double for
a remote model server (a true external boundary). Everything on babelvl's side is real.
"""

from __future__ import annotations

import json
import re

import pyarrow.parquet as pq
import pytest

from babelvl.cli import main
from babelvl.pixmo.build import BuildSpec, dry_run, run_build
from babelvl.testing.openai_server import FakeVLMServer
from babelvl.testing.pixmo_fixtures import ama_rows, cap_rows, cosyn_rows, write_ama, write_cap, write_cosyn

BASE = "http://127.0.0.1:9/"  # URLs are kept, not fetched, by these recipes

FRENCH = {
    "Question ⟦0⟧ about image ⟦1⟧: what shape is shown?": "Question ⟦0⟧ sur l'image ⟦1⟧ : quelle forme voit-on ?",
    "A square (answer ⟦0⟧).": "Un carré (réponse ⟦0⟧).",
    "A circle (answer ⟦0⟧).": "Un cercle (réponse ⟦0⟧).",
}


def translator(prompt: str, images: list[bytes]) -> str:
    text = re.search(r"English: (?:<source>)?(.*?)(?:</source>)?\nFrench:\s*$", prompt, re.S).group(1)
    return FRENCH[text]


def writer(prompt: str, images: list[bytes]) -> str:
    if "Rédigez en français" in prompt:
        return ("Une photo montre une forme géométrique simple posée sur un fond uni, au centre de l'image, "
                "avec des couleurs vives et des bords nets.")
    if "Écrivez en français" in prompt:
        if "BROKEN" in prompt:
            return "Désolé, je ne sais pas."
        return json.dumps([{"question": "Quelle est la valeur la plus élevée du graphique affiché ?",
                            "explanation": "On lit la barre la plus haute.", "answer": "Douze"}])
    return "This caption is written in English although German was asked for, so checks reject it."


def _rows(folder):
    rows = []
    for path in sorted(folder.glob("shard-*.parquet")):
        rows += pq.read_table(path).to_pylist()
    return rows


def _rejects(folder):
    return [json.loads(l) for p in sorted((folder / "rejects").glob("*.jsonl")) for l in p.read_text().splitlines()]


def test_ama_translates_question_and_answer_in_the_released_schema(tmp_path):
    rows = ama_rows(BASE, images=2, per_image=2) + [{**ama_rows(BASE)[0], "question": "  "}]
    data = write_ama(tmp_path / "ama.parquet", BASE, rows)
    with FakeVLMServer(translator) as server:
        result = run_build(BuildSpec(recipe="ama", languages=["fr"], out_dir=tmp_path / "out", data=str(data),
                                     engine="llm:openai:toy", options={"base_url": server.base_url,
                                                                       "license": "Apache-2.0"}, shard_size=2))
        assert server.request_count == 3  # one call per distinct segment (numbers are masked)
    out = _rows(tmp_path / "out" / "fr")
    assert [list(r)[:4] for r in out][0] == ["image_url", "image_sha256", "question", "answer"]
    assert out[0]["question"] == "Question 0 sur l'image 0 : quelle forme voit-on ?"
    assert out[0]["image_sha256"] == rows[0]["image_sha256"] and out[0]["language"] == "fr"
    rejects = _rejects(tmp_path / "out" / "fr")
    assert len(out) == 4 and len(rejects) == 1 and "question" in rejects[0]["_babelvl_reject"]
    assert result["languages"]["fr"] == {**result["languages"]["fr"], "kept": 4, "rejected": 1}
    card = (tmp_path / "out" / "README.md").read_text()
    assert "ODC-BY" in card and "Apache-2.0" in card


def test_cap_writes_captions_and_rejects_wrong_language_with_reason(tmp_path):
    data = write_cap(tmp_path / "cap.parquet", BASE, cap_rows(BASE, count=3))
    with FakeVLMServer(writer) as server:
        result = run_build(BuildSpec(recipe="cap", languages=["fr", "de"], out_dir=tmp_path / "out",
                                     data=str(data), generator="openai:writer",
                                     options={"base_url": server.base_url, "license": "Apache-2.0"}))
    fr = _rows(tmp_path / "out" / "fr")
    assert len(fr) == 3 and all(r["caption"].startswith("Une photo") for r in fr)
    assert fr[0]["transcripts"] == cap_rows(BASE, 3)[0]["transcripts"]
    de_rejects = _rejects(tmp_path / "out" / "de")
    assert len(de_rejects) == 3 and all("language_id" in r["_babelvl_reject"] for r in de_rejects)
    assert result["languages"]["de"]["kept"] == 0 and result["run"]["model_calls"] > 0


def test_cosyn_regenerates_qa_pairs_and_rejects_unparseable_output(tmp_path):
    rows = cosyn_rows(3)
    rows[1] = {**rows[1], "code": rows[1]["code"] + "\n# BROKEN"}
    data = write_cosyn(tmp_path / "cosyn.parquet", rows)
    with FakeVLMServer(writer) as server:
        run_build(BuildSpec(recipe="cosyn", languages=["fr"], out_dir=tmp_path / "out", data=str(data),
                            generator="openai:writer", options={"base_url": server.base_url}))
    out = _rows(tmp_path / "out" / "fr")
    assert len(out) == 2 and out[0]["qa_pairs"][0]["answer"] == "Douze"
    assert out[0]["image"]["bytes"] == pq.read_table(data).to_pylist()[0]["image"]["bytes"]
    assert "not a JSON list" in _rejects(tmp_path / "out" / "fr")[0]["_babelvl_reject"]


def test_rerun_skips_finished_shards_and_calls_no_model(tmp_path):
    data = write_ama(tmp_path / "ama.parquet", BASE, ama_rows(BASE, images=2, per_image=2))
    with FakeVLMServer(translator) as server:
        spec = BuildSpec(recipe="ama", languages=["fr"], out_dir=tmp_path / "out", data=str(data),
                         engine="llm:openai:toy", options={"base_url": server.base_url}, shard_size=1)
        run_build(spec)
        calls = server.request_count
        again = run_build(spec)
        assert server.request_count == calls and again["run"]["shards_skipped"]["fr"] == 4
        assert again["languages"]["fr"]["kept"] == 4


def test_dry_run_and_cli_errors(tmp_path, capsys):
    data = write_cap(tmp_path / "cap.parquet", BASE, cap_rows(BASE, count=5))
    est = dry_run(BuildSpec(recipe="cap", languages=["fr", "de"], out_dir=tmp_path / "o", data=str(data),
                            generator="openai:x"))
    assert est["rows"] == 5 and est["model_calls"] == 10 and est["tokens_estimate"] > 0
    assert main(["build-pixmo", "--recipe", "cap", "--data", str(data), "--languages", "fr",
                 "--out", str(tmp_path / "o")]) == 2
    assert "needs --generator" in capsys.readouterr().err


@pytest.mark.slow
def test_local_and_ray_executors_build_the_same_rows(tmp_path):
    pytest.importorskip("ray")
    data = write_ama(tmp_path / "ama.parquet", BASE, ama_rows(BASE, images=3, per_image=2))
    with FakeVLMServer(translator) as server:
        for executor, workers in (("local", 1), ("ray", 2)):
            run_build(BuildSpec(recipe="ama", languages=["fr"], out_dir=tmp_path / executor, data=str(data),
                                engine="llm:openai:toy", options={"base_url": server.base_url},
                                executor=executor, workers=workers, shard_size=2,
                                cache_path=tmp_path / f"{executor}.sqlite"))
    assert _rows(tmp_path / "local" / "fr") == _rows(tmp_path / "ray" / "fr")


def test_fetching_images_rejects_broken_urls_with_their_reason(tmp_path):
    from babelvl.testing.pixmo_fixtures import ImageServer, fixture_images

    with ImageServer(fixture_images(2)) as images, FakeVLMServer(translator) as server:
        rows = ama_rows(images.base_url, images=2, per_image=2)
        rows[3] = {**rows[3], "image_url": images.url("missing.png")}
        data = write_ama(tmp_path / "ama.parquet", images.base_url, rows)
        result = run_build(BuildSpec(recipe="ama", languages=["fr"], out_dir=tmp_path / "out", data=str(data),
                                     engine="llm:openai:toy", options={"base_url": server.base_url},
                                     fetch_images=True, with_source_language=False))
    rejects = _rejects(tmp_path / "out" / "fr")
    assert result["languages"]["fr"]["kept"] == 3 and len(rejects) == 1
    assert rejects[0]["_babelvl_reject"].startswith("fetch: http 404")


@pytest.mark.slow
def test_cosyn_images_are_localized_in_the_sandbox_or_kept_with_the_reason(tmp_path):
    def both(prompt: str, images: list[bytes]) -> str:
        match = re.search(r"English: (?:<source>)?(.*?)(?:</source>)?\nFrench:\s*$", prompt, re.S)
        return match.group(1).upper() if match else writer(prompt, images)

    rows = cosyn_rows(2)
    rows[1] = {**rows[1], "code": rows[1]["code"].replace("    rows = json.loads(data) if isinstance(data, str) else data",
                                                          "    rows = json.loads(data) if isinstance(data, str) else data\n    1 / 0")}
    data = write_cosyn(tmp_path / "cosyn.parquet", rows)
    with FakeVLMServer(both) as server:
        run_build(BuildSpec(recipe="cosyn", languages=["fr"], out_dir=tmp_path / "out", data=str(data),
                            generator="openai:writer", engine="llm:openai:toy", localize_images=True,
                            options={"base_url": server.base_url}))
    out = _rows(tmp_path / "out" / "fr")
    source = pq.read_table(data).to_pylist()
    assert out[0]["render_note"] == "re-rendered" and '"FRUIT SOLD"' in out[0]["code"]
    assert out[0]["image"]["bytes"] != source[0]["image"]["bytes"]
    assert out[1]["render_note"].startswith("kept original: error: ZeroDivisionError")
    assert out[1]["image"]["bytes"] == source[1]["image"]["bytes"] and out[1]["code"] == source[1]["code"]


BUILD_CHILD = """
import sys
from pathlib import Path
from babelvl.pixmo.build import BuildSpec, run_build
base_url, data, out = sys.argv[1:4]
run_build(BuildSpec(recipe="cap", languages=["fr"], out_dir=Path(out), data=data, generator="openai:writer",
                    options={"base_url": base_url}, shard_size=4))
"""


@pytest.mark.slow
def test_a_killed_build_resumes_to_the_same_rows_without_repeating_calls(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    data = write_cap(tmp_path / "cap.parquet", BASE, cap_rows(BASE, count=40))
    with FakeVLMServer(writer, delay=0.02) as server:
        run_build(BuildSpec(recipe="cap", languages=["fr"], out_dir=tmp_path / "clean", data=str(data),
                            generator="openai:writer", options={"base_url": server.base_url}, shard_size=4))
        total = server.request_count
        script = tmp_path / "child.py"
        script.write_text(BUILD_CHILD)
        child = subprocess.Popen([sys.executable, str(script), server.base_url, str(data), str(tmp_path / "killed")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        start, deadline = server.request_count, time.time() + 120
        while server.request_count - start < total // 2 and time.time() < deadline:
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait()
        done_before = server.request_count - start
        assert 0 < done_before < total
        before = server.request_count
        result = run_build(BuildSpec(recipe="cap", languages=["fr"], out_dir=tmp_path / "killed", data=str(data),
                                     generator="openai:writer", options={"base_url": server.base_url}, shard_size=4))
        resumed_calls = server.request_count - before
    assert result["run"]["shards_skipped"]["fr"] > 0
    assert resumed_calls <= total - done_before + 8  # at most the requests in flight at the kill are repeated
    assert _rows(tmp_path / "killed" / "fr") == _rows(tmp_path / "clean" / "fr")


def test_vlm_modes_send_the_fetched_image_with_the_prompt(tmp_path):
    from babelvl.testing.pixmo_fixtures import ImageServer, fixture_images

    seen: list[int] = []

    def vlm(prompt: str, images: list[bytes]) -> str:
        if re.search(r"\nFrench:\s*$", prompt):
            return translator(prompt, images)
        seen.append(len(images))
        if "Rédigez" in prompt:
            return writer(prompt, images)
        return "On voit un carré bleu posé au centre de cette image, sur un fond entièrement uni."

    with ImageServer(fixture_images(2)) as images, FakeVLMServer(vlm) as server:
        cap = write_cap(tmp_path / "cap.parquet", images.base_url, cap_rows(images.base_url, count=2))
        run_build(BuildSpec(recipe="cap", languages=["fr"], out_dir=tmp_path / "cap", data=str(cap),
                            generator="openai:vlm", caption_mode="vlm", options={"base_url": server.base_url}))
        ama = write_ama(tmp_path / "ama.parquet", images.base_url, ama_rows(images.base_url, images=2, per_image=1))
        run_build(BuildSpec(recipe="ama", languages=["fr"], out_dir=tmp_path / "ama", data=str(ama),
                            engine="llm:openai:t", generator="openai:vlm", regenerate_answers=True,
                            options={"base_url": server.base_url}))
    assert seen and set(seen) == {1}  # every generation request carried exactly one image
    assert len(_rows(tmp_path / "cap" / "fr")) == 2
    ama_out = _rows(tmp_path / "ama" / "fr")
    assert len(ama_out) == 2 and all(r["answer"].startswith("On voit un carré") for r in ama_out)
    assert all(r["question"].startswith("Question 0 sur l'image") for r in ama_out)


def test_build_writes_english_for_the_english_only_mixture_and_refuses_a_fetch_that_would_do_nothing(tmp_path):
    """The README's flow: build ama in fr with images, then mix English-only and multilingual from it."""
    from babelvl.errors import InputError
    from babelvl.testing.pixmo_fixtures import ImageServer, fixture_images

    with ImageServer(fixture_images(2)) as images, FakeVLMServer(translator) as server:
        data = write_ama(tmp_path / "ama.parquet", images.base_url,
                         ama_rows(images.base_url, images=2, per_image=2))
        spec = dict(recipe="ama", languages=["fr"], data=str(data), engine="llm:openai:toy",
                    options={"base_url": server.base_url})
        run_build(BuildSpec(out_dir=tmp_path / "plain", **spec))
        with pytest.raises(InputError, match=r"built without --fetch-images.*--cache .*plain/cache.sqlite"):
            run_build(BuildSpec(out_dir=tmp_path / "plain", fetch_images=True, **spec))
        calls = server.request_count
        result = run_build(BuildSpec(out_dir=tmp_path / "ama", fetch_images=True,
                                     cache_path=tmp_path / "plain" / "cache.sqlite", **spec))
        assert server.request_count == calls  # model calls replayed from the first build's cache
    assert list(result["languages"]) == ["en", "fr"] and result["languages"]["en"]["kept"] == 4
    english = _rows(tmp_path / "ama" / "en")
    assert [r["question"] for r in english] == [r["question"] for r in ama_rows(images.base_url, 2, 2)]
    for languages in ("en", "en,fr"):
        assert main(["mix", "--data", str(tmp_path / "ama"), "--languages", languages, "--budget", "4",
                     "--out", str(tmp_path / f"mix-{languages}")]) == 0
        records = [json.loads(l) for l in (tmp_path / f"mix-{languages}" / "train.jsonl").read_text().splitlines()]
        assert {r["language"] for r in records} == set(languages.split(","))
