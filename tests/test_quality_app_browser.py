"""End to end in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright): an
annotator logs in, rates with the keyboard, marks an ESA span by selecting text, and the
database holds what they entered."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from test_quality_app import PASSWORD, jsonl, running_server, sample_items

from babelvl.quality.app import create_app, create_project, create_user, import_plan

CHROMIUM = Path(os.environ.get("BABELVL_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TARGET = "Ein Hund 🐕 läuft über die Straße."

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason=f"{CHROMIUM} is missing: apt-get install -y chromium")
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (no browser download needed)")


def _setup(tmp_path: Path) -> Path:
    db = tmp_path / "app.sqlite"
    create_user(db, "alice", PASSWORD)
    create_project(db, "lik", "likert")
    create_project(db, "esa", "esa")
    create_project(db, "mqm", "mqm")
    (tmp_path / "images").mkdir()
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (320, 240), (70, 130, 180))
    ImageDraw.Draw(image).rectangle((80, 60, 240, 180), fill=(240, 200, 40))
    image.save(tmp_path / "images" / "0.png")
    items = sample_items(2)
    items[0]["target_text"] = TARGET
    (tmp_path / "plan.jsonl").write_text(jsonl([{**it, "annotators": ["alice"]} for it in items]))
    import_plan(db, "lik", tmp_path / "plan.jsonl")
    import_plan(db, "esa", tmp_path / "plan.jsonl")
    import_plan(db, "mqm", tmp_path / "plan.jsonl")
    return db


def _annotations(db: Path, project: str) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute("SELECT n.* FROM annotations n JOIN projects p ON p.id = n.project_id "
                            "WHERE p.name = ? ORDER BY n.id", (project,)).fetchall()
    finally:
        conn.close()


def test_annotator_rates_and_marks_spans_in_chromium(tmp_path: Path) -> None:
    db = _setup(tmp_path)
    shots = Path(os.environ.get("BABELVL_SCREENSHOTS") or tempfile.mkdtemp(prefix="babelvl-shots-"))
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        with running_server(create_app(db)) as base, sync_api.sync_playwright() as pw:
            # An empty profile folder of our own (Playwright passes it as --user-data-dir).
            browser = pw.chromium.launch_persistent_context(profile, executable_path=str(CHROMIUM),
                                                            args=CHROMIUM_ARGS, headless=True,
                                                            viewport={"width": 1280, "height": 800})
            page = browser.new_page()
            page.set_default_timeout(10_000)
            page.goto(base + "/")
            page.fill("input[name=name]", "alice")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/queue")
            page.click("#continue-esa")
            page.wait_for_selector("#target")
            assert page.locator("figure.image img").evaluate("img => img.naturalWidth") == 320

            # ESA: select "läuft" (after an emoji: offsets must be code points), mark it major, score 72.
            word = "läuft"
            page.evaluate("""word => {
                const node = document.getElementById('target').firstChild;
                const at = node.textContent.indexOf(word);
                const range = document.createRange();
                range.setStart(node, at); range.setEnd(node, at + word.length);
                const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
            }""", word)
            page.keyboard.press("2")
            assert page.locator("#target mark").inner_text() == word
            page.fill("#scale-score-number", "72")
            page.locator("#target").click()  # focus leaves the number box; Enter is the shortcut
            page.screenshot(path=str(shots / "esa-item.png"), full_page=True)
            page.keyboard.press("Enter")
            page.wait_for_url("**/items/mme%3Ade%3A1%3Aquestion?saved=1")

            # Likert: digits rate adequacy then fluency, Enter submits.
            page.goto(base + "/projects/lik/items/mme%3Ade%3A0%3Aquestion")
            page.keyboard.press("4")
            page.keyboard.press("5")
            page.screenshot(path=str(shots / "likert-item.png"), full_page=True)
            page.keyboard.press("Enter")
            page.wait_for_selector("text=Saved.")
            page.keyboard.press("p")  # back to the first item: its answers are there
            page.wait_for_url("**/items/mme%3Ade%3A0%3Aquestion")
            assert page.locator("input[name=adequacy][value='4']").is_checked()
            browser.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)

    (esa,) = _annotations(db, "esa")
    start = TARGET.index("läuft")
    assert json.loads(esa["values_json"]) == {
        "score": 72, "spans": [{"start": start, "end": start + 5, "severity": "major", "text": "läuft"}]}
    assert esa["seconds"] is not None and 0 < esa["seconds"] < 60
    (likert,) = _annotations(db, "lik")
    assert json.loads(likert["values_json"]) == {"adequacy": 4, "fluency": 5}
    assert likert["seconds"] is not None and likert["seconds"] > 0
    assert (shots / "esa-item.png").stat().st_size > 10_000


def _launch(pw, profile: str):  # type: ignore[no-untyped-def]
    return pw.chromium.launch_persistent_context(profile, executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                                 headless=True, viewport={"width": 1280, "height": 800})


def _log_in(page, base: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base + "/")
    page.fill("input[name=name]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/queue")


def test_keyboard_only_mqm_spans_aligned_anchors_and_accessible_names(tmp_path: Path) -> None:
    """Everything an annotator does with the keyboard alone, and the page checked as rendered."""
    db = _setup(tmp_path)
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        with running_server(create_app(db)) as base, sync_api.sync_playwright() as pw:
            browser = _launch(pw, profile)
            page = browser.new_page()
            page.set_default_timeout(10_000)
            _log_in(page, base)
            ids = page.eval_on_selector_all("[id]", "els => els.map(e => e.id)")
            assert len(ids) == len(set(ids)), f"repeated ids on the queue page: {ids}"

            # ESA: each anchor's tick sits where the slider's thumb goes for that value. Measured by
            # clicking the slider at the tick's x: the value the browser sets must be the anchor's.
            page.goto(base + "/projects/esa/items/mme%3Ade%3A0%3Aquestion")
            slider = page.locator("#scale-score")
            slider.scroll_into_view_if_needed()  # boxes are in viewport coordinates, where the mouse clicks
            box = slider.bounding_box()
            assert box is not None
            offsets = {}
            for anchor in page.locator("li.anchor").all():
                value = int(anchor.get_attribute("data-value") or "")
                tick = anchor.locator(".tick").bounding_box()
                assert tick is not None
                x = tick["x"] + tick["width"] / 2
                page.mouse.click(x, box["y"] + box["height"] / 2)
                offsets[value] = int(slider.input_value()) - value
            assert set(offsets) == {0, 33, 66, 100} and all(abs(d) <= 1 for d in offsets.values()), offsets
            # accessible names, as the browser computes them for assistive technology (ARIA roles + names)
            assert page.get_by_role("slider", name="Score (0–100)", exact=True).count() == 1
            assert page.get_by_role("spinbutton", name="Score as a number", exact=True).count() == 1
            assert page.get_by_role("textbox", name="Translation de", exact=True).count() == 1
            assert page.get_by_role("group", name="Severity of the selected span").count() == 1
            ids = page.eval_on_selector_all("[id]", "els => els.map(e => e.id)")
            assert len(ids) == len(set(ids)), ids

            # MQM with the keyboard only: focus the translation, move word by word, extend with Shift,
            # pick the category, press a digit for the severity; then the [MISSING] token the same way.
            page.goto(base + "/projects/mqm/items/mme%3Ade%3A0%3Aquestion")
            page.locator("#span-category").focus()
            page.keyboard.press("ArrowDown")           # accuracy/omission: the second category of mqm.yaml
            page.locator("#target").focus()
            page.keyboard.press("ArrowRight")          # "Ein"
            page.keyboard.press("ArrowRight")          # "Hund"
            page.keyboard.press("Shift+ArrowRight")    # + "🐕"
            page.keyboard.press("Shift+ArrowRight")    # + "läuft"
            page.keyboard.press("2")                   # major
            assert page.locator("#target mark").count() == 1
            page.locator("#target").focus()
            page.keyboard.press("End")                 # the [MISSING] token
            page.keyboard.press("3")                   # critical
            assert page.locator("#span-list li").count() == 2
            page.locator("#target").focus()
            page.keyboard.press("Enter")
            page.wait_for_url("**/items/mme%3Ade%3A1%3Aquestion?saved=1")
            browser.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)

    (mqm,) = _annotations(db, "mqm")
    start = TARGET.index("Hund")
    second = json.loads(mqm["values_json"])["errors"]
    assert second == [
        {"start": start, "end": start + len("Hund 🐕 läuft"), "severity": "major", "category": "accuracy/omission",
         "text": "Hund 🐕 läuft"},
        {"start": None, "end": None, "severity": "critical", "category": "accuracy/omission"}]
