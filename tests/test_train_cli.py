"""Multi-PixMo output -> `babelvl mix` (English-only vs multilingual, matched budget) -> `babelvl export-mixture`."""

from __future__ import annotations

import json
import re

from babelvl.cli import main
from babelvl.pixmo.build import BuildSpec, run_build
from babelvl.testing.openai_server import FakeVLMServer
from babelvl.testing.pixmo_fixtures import ImageServer, ama_rows, fixture_images, write_ama

TRANSLATIONS = {"Question ⟦0⟧ about image ⟦1⟧: what shape is shown?": "Frage ⟦0⟧ zu Bild ⟦1⟧: welche Form ist zu sehen?",
                "A square (answer ⟦0⟧).": "Ein Quadrat (Antwort ⟦0⟧).", "A circle (answer ⟦0⟧).": "Ein Kreis (Antwort ⟦0⟧)."}


def translate(prompt: str, images: list[bytes]) -> str:
    return TRANSLATIONS[re.search(r"English: (?:<source>)?(.*?)(?:</source>)?\n\w+:\s*$", prompt, re.S).group(1)]


def test_mix_matched_budgets_and_export(tmp_path, capsys):
    with ImageServer(fixture_images(4)) as images, FakeVLMServer(translate) as server:
        data = write_ama(tmp_path / "ama.parquet", images.base_url, ama_rows(images.base_url, images=4, per_image=2))
        run_build(BuildSpec(recipe="ama", languages=["en", "de"], out_dir=tmp_path / "ama", data=str(data),
                            engine="llm:openai:t", options={"base_url": server.base_url}, fetch_images=True))
    en_rows = (tmp_path / "ama" / "en")
    assert sorted(p.name for p in en_rows.glob("shard-*.parquet"))
    for name, langs in (("english", "en"), ("multi", "en,de")):
        assert main(["mix", "--data", str(tmp_path / "ama"), "--languages", langs, "--budget", "6",
                     "--image-dir", str(tmp_path / "ama" / "images"), "--seed", "1",
                     "--out", str(tmp_path / name)]) == 0
    english = [json.loads(l) for l in (tmp_path / "english" / "train.jsonl").read_text().splitlines()]
    multi = [json.loads(l) for l in (tmp_path / "multi" / "train.jsonl").read_text().splitlines()]
    assert len(english) == len(multi) == 6  # matched budget
    assert {e["language"] for e in english} == {"en"} and {e["language"] for e in multi} == {"en", "de"}
    assert main(["export-mixture", "--data", str(tmp_path / "multi"), "--format", "llava", "--out", str(tmp_path / "llava")]) == 0
    llava = json.loads(next((tmp_path / "llava").glob("*.json")).read_text())
    assert len(llava) == 6 and llava[0]["conversations"][0]["value"].startswith("<image>")
    assert (tmp_path / "llava" / llava[0]["image"]).exists()
