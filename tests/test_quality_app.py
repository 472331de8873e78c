"""The annotation app through HTTP: auth, admin set-up, annotating, blinding, CSRF, limits, export,
and many annotators at once against a real uvicorn server on loopback."""

from __future__ import annotations

import html
import io
import json
import random
import re
import socket
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from babelvl.quality.app import create_admin, create_app, create_project, create_user, export_annotations
from babelvl.quality.app.__main__ import main as app_main
from babelvl.quality.app.protocol_forms import (FieldError, ProtocolError, project_protocol, resolve_protocol,
                                                validate_submission)
from babelvl.quality.protocols import load_protocol

PASSWORD = "correct-horse"


# --- helpers --------------------------------------------------------------------------------------

def png_bytes() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 40, 40)).save(buf, format="PNG")
    return buf.getvalue()


def sample_items(n: int, prefix: str = "mme:de") -> list[dict[str, Any]]:
    return [{"item_id": f"{prefix}:{i}:question", "language": "de", "group": "mme", "field": "question",
             "source_text": f"What colour is the car {i}?", "target_text": f"Welche Farbe hat das Auto {i}?",
             "image_path": f"images/{i}.png"} for i in range(n)]


def jsonl(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name!r} in page"
    return match.group(1)


def login(client: TestClient | httpx.Client, name: str, password: str = PASSWORD) -> str:
    """Log in and return the session's CSRF token."""
    page = client.get("/login")
    response = client.post("/login", data={"csrf_token": hidden(page.text, "csrf_token"), "name": name,
                                           "password": password}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return hidden(client.get("/queue").text, "csrf_token")


def item_path(project: str, item_id: str) -> str:
    from urllib.parse import quote

    return f"/projects/{project}/items/{quote(item_id, safe='')}"


def open_form(client: TestClient | httpx.Client, project: str, item_id: str) -> dict[str, str]:
    page = client.get(item_path(project, item_id))
    assert page.status_code == 200, page.text
    return {"csrf_token": hidden(page.text, "csrf_token"), "served": hidden(page.text, "served")}


def submit(client: TestClient | httpx.Client, project: str, item_id: str, values: dict[str, Any],
           form: dict[str, str] | None = None) -> httpx.Response:
    form = form or open_form(client, project, item_id)
    return client.post(item_path(project, item_id), data={**form, **values}, follow_redirects=False)


def rows(db: Path, sql: str, *args: Any) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    """An app database with an admin, annotators alice/bob/carol and a Likert project:
    items 0-1 assigned to alice, 2-3 to bob, 4 to both (overlap)."""
    path = tmp_path / "app.sqlite"
    create_admin(path, "admin", PASSWORD)
    for name in ("alice", "bob", "carol"):
        create_user(path, name, PASSWORD)
    create_project(path, "lik", "likert")
    plan = tmp_path / "plan.jsonl"
    (tmp_path / "images").mkdir()
    owners = ["alice", "alice", "bob", "bob", None]
    records = []
    for i, item in enumerate(sample_items(5)):
        (tmp_path / "images" / f"{i}.png").write_bytes(png_bytes())
        records.append({**item, "annotators": [owners[i]] if owners[i] else ["alice", "bob"]})
    plan.write_text(jsonl(records))
    from babelvl.quality.app import import_plan

    assert import_plan(path, "lik", plan) == (5, 6)
    return path


def client_for(db: Path, name: str | None = None, **options: Any) -> tuple[TestClient, str]:
    client = TestClient(create_app(db, **options))
    return client, (login(client, name) if name else "")


ITEM = "mme:de:{}:question".format


# --- login and sessions ---------------------------------------------------------------------------

def test_login_refuses_bad_password_unknown_user_and_missing_csrf(db: Path) -> None:
    client = TestClient(create_app(db))
    token = hidden(client.get("/login").text, "csrf_token")
    bad = client.post("/login", data={"csrf_token": token, "name": "alice", "password": "wrong-password"},
                      follow_redirects=False)
    assert bad.status_code == 401 and "Wrong user name or password" in bad.text
    assert "babelvl_session" not in bad.headers.get("set-cookie", "")
    token = hidden(bad.text, "csrf_token")  # each login page sets a fresh login token
    unknown = client.post("/login", data={"csrf_token": token, "name": "mallory", "password": PASSWORD})
    assert unknown.status_code == 401 and "Wrong user name or password" in unknown.text
    token = hidden(unknown.text, "csrf_token")
    no_csrf = client.post("/login", data={"name": "alice", "password": PASSWORD}, follow_redirects=False)
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.text
    assert client.get("/queue", follow_redirects=False).status_code == 303  # still logged out
    good = client.post("/login", data={"csrf_token": token, "name": "alice", "password": PASSWORD},
                       follow_redirects=False)
    assert good.status_code == 303
    cookie = good.headers["set-cookie"]
    assert "babelvl_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert [(r["actor"], r["action"]) for r in rows(db, "SELECT actor, action FROM audit WHERE action LIKE 'login%' ORDER BY id")] \
        == [("alice", "login_failed"), ("mallory", "login_failed"), ("alice", "login")]


def test_logout_ends_the_session_and_pages_redirect_to_login(db: Path) -> None:
    client, csrf = client_for(db, "alice")
    assert client.get("/queue").status_code == 200
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403  # CSRF-less logout
    assert client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    response = client.get(item_path("lik", ITEM(0)), follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=/projects/lik")
    assert rows(db, "SELECT COUNT(*) AS n FROM sessions")[0]["n"] == 0


def test_pages_carry_security_headers(db: Path) -> None:
    client, _ = client_for(db, "alice")
    response = client.get(item_path("lik", ITEM(0)))
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"


# --- admin ----------------------------------------------------------------------------------------

def test_admin_creates_users_project_imports_and_exports(tmp_path: Path) -> None:
    path = tmp_path / "app.sqlite"
    create_admin(path, "admin", PASSWORD)
    admin, csrf = client_for(path, "admin")
    for name in ("ann1", "ann2"):
        r = admin.post("/admin/users", data={"csrf_token": csrf, "name": name, "role": "annotator",
                                             "password": PASSWORD}, follow_redirects=False)
        assert r.status_code == 303
    again = admin.post("/admin/users", data={"csrf_token": csrf, "name": "ann1", "role": "annotator",
                                             "password": PASSWORD})
    assert again.status_code == 400 and "already exists" in again.text
    short = admin.post("/admin/users", data={"csrf_token": csrf, "name": "ann3", "role": "annotator",
                                             "password": "short"})
    assert short.status_code == 400 and "at least 10" in short.text
    r = admin.post("/admin/projects", data={"csrf_token": csrf, "name": "esa-de", "protocol": "esa"},
                   follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/projects/esa-de"
    bad_protocol = admin.post("/admin/projects", data={"csrf_token": csrf, "name": "x",
                                                       "protocol_text": "name: x\nkind: nonsense"})
    assert bad_protocol.status_code == 400 and "kind" in bad_protocol.text
    items = sample_items(3)
    assignments = [{"item_id": it["item_id"], "annotator": a} for it in items for a in ("ann1", "ann2")]
    r = admin.post("/admin/projects/esa-de/import", data={"csrf_token": csrf},
                   files=[("items", ("items.jsonl", jsonl(items))),
                          ("assignments", ("assignments.jsonl", jsonl(assignments))),
                          ("images", ("0.png", png_bytes(), "image/png"))], follow_redirects=False)
    assert r.status_code == 303, r.text
    assert "Imported 3 items and 6 assignments" in admin.get(r.headers["location"]).text
    assert rows(path, "SELECT COUNT(*) AS n FROM items WHERE image IS NOT NULL")[0]["n"] == 1

    annotator, _ = client_for(path, "ann1")
    queue = annotator.get("/queue").text
    assert all(it["item_id"] in queue for it in items)
    page = annotator.get(item_path("esa-de", ITEM(0))).text
    assert "What colour is the car 0?" in page and "Welche Farbe hat das Auto 0?" in page
    image = annotator.get(f"/projects/esa-de/images/{ITEM(0)}")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert annotator.get(f"/projects/esa-de/images/{ITEM(1)}").status_code == 404  # not uploaded
    values = {"score": "72", "spans": json.dumps([{"start": 0, "end": 7, "severity": "major"}])}
    r = submit(annotator, "esa-de", ITEM(0), values)
    assert r.status_code == 303 and r.headers["location"].endswith("?saved=1")

    export = admin.get("/admin/projects/esa-de/export")
    assert export.status_code == 200 and export.headers["content-type"].startswith("application/x-ndjson")
    records = [json.loads(line) for line in export.text.splitlines()]
    assert len(records) == 1
    record = records[0]
    assert record["item_id"] == ITEM(0) and record["annotator"] == "ann1" and record["protocol"] == "esa"
    assert record["values"] == {"score": 72, "spans": [{"start": 0, "end": 7, "severity": "major",
                                                        "text": "Welche "}]}
    assert record["seconds"] is not None and record["created"]


def test_import_with_unknown_or_duplicate_ids_is_refused_whole(db: Path) -> None:
    admin, csrf = client_for(db, "admin")
    items = sample_items(2, prefix="new") + sample_items(1, prefix="new") + sample_items(1)  # dup + existing
    assignments = [{"item_id": "new:0:question", "annotator": "alice"},
                   {"item_id": "nowhere:1", "annotator": "alice"},
                   {"item_id": "new:1:question", "annotator": "nobody"}]
    r = admin.post("/admin/projects/lik/import", data={"csrf_token": csrf},
                   files={"items": ("items.jsonl", jsonl(items) + "{not json\n"),
                          "assignments": ("a.jsonl", jsonl(assignments))})
    assert r.status_code == 400
    text = html.unescape(r.text)
    for problem in ("'new:0:question' appears twice", "'mme:de:0:question' is already in the project",
                    "unknown item 'nowhere:1'", "unknown user 'nobody'", "items.jsonl line 5: not valid JSON"):
        assert problem in text, problem
    assert rows(db, "SELECT COUNT(*) AS n FROM items")[0]["n"] == 5
    assert rows(db, "SELECT COUNT(*) AS n FROM assignments")[0]["n"] == 6
    missing_field = admin.post("/admin/projects/lik/import", data={"csrf_token": csrf},
                               files={"items": ("items.jsonl", jsonl([{"item_id": "z"}]))})
    assert missing_field.status_code == 400 and "missing field(s)" in missing_field.text


def test_plan_file_import_through_the_form(db: Path) -> None:
    admin, csrf = client_for(db, "admin")
    plan = jsonl([{**sample_items(1, prefix="plan")[0], "annotators": ["carol"]},
                  {"item": sample_items(2, prefix="plan")[1]},
                  {"item_id": "plan:1:question", "annotator": "carol"}])
    r = admin.post("/admin/projects/lik/import", data={"csrf_token": csrf},
                   files={"plan": ("plan.jsonl", plan)}, follow_redirects=False)
    assert r.status_code == 303, r.text
    carol, _ = client_for(db, "carol")
    assert "plan:0:question" in carol.get("/queue").text and "plan:1:question" in carol.get("/queue").text


def test_oversized_upload_is_refused_with_413(db: Path) -> None:
    admin, csrf = client_for(db, "admin", max_upload_bytes=20_000)
    big = jsonl(sample_items(200, prefix="big"))
    assert len(big) > 20_000
    r = admin.post("/admin/projects/lik/import", data={"csrf_token": csrf}, files={"items": ("i.jsonl", big)})
    assert r.status_code == 413 and "Upload too large" in r.text and "20000" in r.text

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while streaming
        for _ in range(30):
            yield b"x" * 1000

    streamed = admin.post("/admin/projects/lik/import", content=chunks(),
                          headers={"content-type": "multipart/form-data; boundary=zzz"})
    assert streamed.status_code == 413
    assert rows(db, "SELECT COUNT(*) AS n FROM items")[0]["n"] == 5


def test_admin_routes_refuse_annotators(db: Path) -> None:
    client, csrf = client_for(db, "alice")
    for url in ("/admin", "/admin/projects/lik", "/admin/projects/lik/export", "/admin/audit"):
        assert client.get(url).status_code == 403, url
    r = client.post("/admin/users", data={"csrf_token": csrf, "name": "eve", "role": "admin", "password": PASSWORD})
    assert r.status_code == 403 and "admins only" in r.text
    r = client.post("/admin/projects/lik/import", data={"csrf_token": csrf},
                    files={"items": ("i.jsonl", jsonl(sample_items(1, prefix="evil")))})
    assert r.status_code == 403
    assert not rows(db, "SELECT * FROM users WHERE name = 'eve'")
    assert not rows(db, "SELECT * FROM items WHERE item_id LIKE 'evil%'")


# --- annotating -----------------------------------------------------------------------------------

def test_annotator_submits_and_moves_to_the_next_item(db: Path) -> None:
    client, _ = client_for(db, "alice")
    queue = client.get("/queue").text
    assert ITEM(0) in queue and ITEM(4) in queue and ITEM(2) not in queue
    r = submit(client, "lik", ITEM(0), {"adequacy": "4", "fluency": "5", "comment": " fine "})
    assert r.status_code == 303 and r.headers["location"] == item_path("lik", ITEM(1)) + "?saved=1"
    saved = rows(db, "SELECT values_json, seconds FROM annotations")
    assert len(saved) == 1 and json.loads(saved[0]["values_json"]) == {"adequacy": 4, "fluency": 5,
                                                                       "comment": "fine"}
    page = client.get(item_path("lik", ITEM(0))).text  # back to an earlier item: prefilled
    assert re.search(r'name="adequacy" value="4" required checked', page)
    assert 'id="next"' in page and 'id="prev"' not in page
    assert submit(client, "lik", ITEM(4), {"adequacy": "2", "fluency": "2"}).headers["location"] == \
        item_path("lik", ITEM(1)) + "?saved=1"  # the next item still to do, wherever it is
    last = submit(client, "lik", ITEM(1), {"adequacy": "2", "fluency": "2"})
    assert last.headers["location"] == "/queue?done=1"
    done = client.get(last.headers["location"]).text
    assert "All your items are annotated" in done and "3 of 3 done" in done


def test_bad_ratings_are_refused_naming_the_field(db: Path) -> None:
    client, _ = client_for(db, "alice")
    for values, field in (({"adequacy": "7", "fluency": "3"}, "adequacy"),
                          ({"adequacy": "2", "fluency": "0"}, "fluency"),
                          ({"adequacy": "x", "fluency": "3"}, "adequacy"),
                          ({"adequacy": "3"}, "fluency")):
        r = submit(client, "lik", ITEM(0), values)
        assert r.status_code == 400 and f"field '{field}'" in html.unescape(r.text), (values, r.text[:300])
    assert not rows(db, "SELECT * FROM annotations")


def test_resubmission_updates_the_one_row_and_double_clicks_count_once(db: Path) -> None:
    client, _ = client_for(db, "alice")
    form = open_form(client, "lik", ITEM(0))
    time.sleep(0.2)
    for _ in range(2):  # a double click resends the same served form
        assert submit(client, "lik", ITEM(0), {"adequacy": "3", "fluency": "3", "client_seconds": "0.5"},
                      form).status_code == 303
    (row,) = rows(db, "SELECT * FROM annotations")
    first = row["seconds"]
    assert row["revisions"] == 1 and 0.2 <= first < 5  # the server's clock, not the browser's 0.5
    assert submit(client, "lik", ITEM(0), {"adequacy": "5", "fluency": "4", "client_seconds": "0.25"}).status_code == 303
    (row,) = rows(db, "SELECT * FROM annotations")
    assert row["revisions"] == 2 and first <= row["seconds"] < first + 5
    assert json.loads(row["values_json"]) == {"adequacy": 5, "fluency": 4}
    (record,) = export_annotations(db, "lik")
    assert record.values == {"adequacy": 5, "fluency": 4} and record.seconds == row["seconds"]


def test_time_per_item_is_measured_by_the_server(db: Path) -> None:
    client, _ = client_for(db, "alice")
    form = open_form(client, "lik", ITEM(0))
    time.sleep(0.3)
    open_form(client, "lik", ITEM(0))  # a reload does not restart the clock
    forged = {**form, "served": "1.000.abcdef.0000"}  # neither a forged stamp nor client_seconds sets the time
    submit(client, "lik", ITEM(0), {"adequacy": "3", "fluency": "3", "client_seconds": "86000"}, forged)
    submit(client, "lik", ITEM(1), {"adequacy": "3", "fluency": "3", "client_seconds": "86000"})
    by_item = {r["item_id"]: r["seconds"] for r in rows(db, "SELECT item_id, seconds FROM annotations")}
    assert 0.3 <= by_item[ITEM(0)] < 5 and 0 <= by_item[ITEM(1)] < 5


def test_post_without_csrf_token_is_refused(db: Path) -> None:
    client, _ = client_for(db, "alice")
    form = open_form(client, "lik", ITEM(0))
    for token in (None, "forged-token"):
        data = {"served": form["served"], "adequacy": "3", "fluency": "3"}
        if token:
            data["csrf_token"] = token
        r = client.post(item_path("lik", ITEM(0)), data=data)
        assert r.status_code == 403 and "CSRF token" in r.text
    anonymous = TestClient(create_app(db)).post(item_path("lik", ITEM(0)), data={**form, "adequacy": "3"})
    assert anonymous.status_code == 403
    assert not rows(db, "SELECT * FROM annotations")


def test_blinding_annotators_never_see_each_others_items_or_annotations(db: Path) -> None:
    alice, _ = client_for(db, "alice")
    bob, bob_csrf = client_for(db, "bob")
    submit(alice, "lik", ITEM(0), {"adequacy": "1", "fluency": "2", "comment": "ALICE-SECRET-0"})
    submit(alice, "lik", ITEM(4), {"adequacy": "1", "fluency": "2", "comment": "ALICE-SECRET-4"})
    alice_ids = [r["id"] for r in rows(db, "SELECT id FROM annotations ORDER BY id")]
    assert alice.get(f"/annotations/{alice_ids[0]}").json()["values"]["comment"] == "ALICE-SECRET-0"

    missing = bob.get(item_path("lik", "no-such-item"))
    assert missing.status_code == 404
    for url in (item_path("lik", ITEM(0)), f"/projects/lik/images/{ITEM(0)}", item_path("nope", ITEM(0))):
        r = bob.get(url)
        assert r.status_code == 404 and r.text == missing.text, url  # same answer: no existence leak
    for annotation_id in [*alice_ids, 999_999]:
        r = bob.get(f"/annotations/{annotation_id}")
        assert r.status_code == 404 and "ALICE" not in r.text
    r = bob.post(item_path("lik", ITEM(0)), data={"csrf_token": bob_csrf, "adequacy": "5", "fluency": "5"})
    assert r.status_code == 404
    shared = bob.get(item_path("lik", ITEM(4))).text  # assigned to both: bob sees only his own (none)
    assert "ALICE-SECRET" not in shared and "checked" not in shared and "annotated" not in shared
    assert "ALICE" not in bob.get("/queue").text and ITEM(0) not in bob.get("/queue").text
    assert len(rows(db, "SELECT * FROM annotations")) == 2


def test_export_returns_exactly_the_stored_annotations(db: Path) -> None:
    alice, _ = client_for(db, "alice")
    bob, _ = client_for(db, "bob")
    submit(alice, "lik", ITEM(4), {"adequacy": "2", "fluency": "3"})
    submit(bob, "lik", ITEM(4), {"adequacy": "5", "fluency": "4"})
    submit(bob, "lik", ITEM(2), {"adequacy": "1", "fluency": "1"})
    admin, _ = client_for(db, "admin")
    exported = [json.loads(line) for line in admin.get("/admin/projects/lik/export").text.splitlines()]
    stored = rows(db, "SELECT n.item_id, u.name, n.values_json, n.seconds, n.updated FROM annotations n "
                      "JOIN users u ON u.id = n.annotator_id")
    assert sorted((e["item_id"], e["annotator"], json.dumps(e["values"]), e["seconds"], e["created"])
                  for e in exported) == \
        sorted((r["item_id"], r["name"], r["values_json"], r["seconds"], r["updated"]) for r in stored)
    assert {e["protocol"] for e in exported} == {"likert"} and len(exported) == 3
    assert admin.get(f"/annotations/{rows(db, 'SELECT MIN(id) AS i FROM annotations')[0]['i']}").status_code == 200


def test_esa_and_mqm_forms_validate_spans(tmp_path: Path) -> None:
    path = tmp_path / "app.sqlite"
    create_user(path, "alice", PASSWORD)
    create_project(path, "esa", "esa")
    create_project(path, "mqm", "mqm")
    plan = tmp_path / "plan.jsonl"
    plan.write_text(jsonl([{**sample_items(1)[0], "image_path": None, "annotators": ["alice"]}]))
    from babelvl.quality.app import import_plan

    import_plan(path, "esa", plan)
    import_plan(path, "mqm", plan)
    client, _ = client_for(path, "alice")
    target_len = len("Welche Farbe hat das Auto 0?")
    for values, field in (({"score": "101"}, "score"), ({"score": ""}, "score"),
                          ({"score": "50", "spans": json.dumps([{"start": 3, "end": target_len + 1,
                                                                 "severity": "minor"}])}, "spans[0]"),
                          ({"score": "50", "spans": json.dumps([{"start": 0, "end": 2, "severity": "fatal"}])},
                           "spans[0]")):
        r = submit(client, "esa", ITEM(0), values)
        assert r.status_code == 400 and f"field '{field}'" in html.unescape(r.text), values
    bad_category = [{"start": 0, "end": 6, "severity": "minor", "category": "vibes"}]
    assert submit(client, "mqm", ITEM(0), {"errors": json.dumps(bad_category)}).status_code == 400
    good = [{"start": 0, "end": 6, "severity": "major", "category": "accuracy/mistranslation"}]
    assert submit(client, "mqm", ITEM(0), {"errors": json.dumps(good)}).status_code == 303
    (record,) = export_annotations(path, "mqm")
    assert record.values == {"errors": [{**good[0], "text": "Welche"}]}


def test_postedit_form_is_prefilled_with_the_translation(db: Path) -> None:
    create_project(db, "pe", "postedit")
    admin, csrf = client_for(db, "admin")
    plan = jsonl([{**sample_items(1)[0], "image_path": None, "annotators": ["alice"]}])
    assert admin.post("/admin/projects/pe/import", data={"csrf_token": csrf},
                      files={"plan": ("plan.jsonl", plan)}, follow_redirects=False).status_code == 303
    alice, _ = client_for(db, "alice")
    page = alice.get(item_path("pe", ITEM(0))).text
    assert re.search(r'<textarea name="post_edit"[^>]*>Welche Farbe hat das Auto 0\?</textarea>', page)
    assert submit(alice, "pe", ITEM(0), {"post_edit": ""}).status_code == 400
    assert submit(alice, "pe", ITEM(0), {"post_edit": "Welche Farbe hat Auto 0?"}).status_code == 303
    (record,) = export_annotations(db, "pe")
    assert record.values == {"post_edit": "Welche Farbe hat Auto 0?"} and record.protocol == "postedit"


def test_images_from_the_image_root_never_escape_it(db: Path) -> None:
    root = db.parent  # holds images/0.png from the fixture
    (root.parent / "outside.png").write_bytes(png_bytes())
    admin, csrf = client_for(db, "admin", image_root=root)
    plan = jsonl([{**sample_items(1, prefix="disk")[0], "image_path": "images/0.png", "annotators": ["carol"]},
                  {**sample_items(2, prefix="disk")[1], "image_path": "../outside.png", "annotators": ["carol"]}])
    assert admin.post("/admin/projects/lik/import", data={"csrf_token": csrf},
                      files={"plan": ("plan.jsonl", plan)}, follow_redirects=False).status_code == 303
    carol = TestClient(admin.app)
    login(carol, "carol")
    inside = carol.get("/projects/lik/images/disk:0:question")
    assert inside.status_code == 200 and inside.headers["content-type"] == "image/png"
    assert carol.get("/projects/lik/images/disk:1:question").status_code == 404
    assert "No image" in carol.get(item_path("lik", "disk:1:question")).text


def test_projects_store_the_protocol_file_and_forms_follow_it() -> None:
    """One definition: what a project stores reads back as the very protocol of the YAML file."""
    for name in ("esa", "mqm", "likert", "postedit"):
        stored = json.loads(json.dumps(resolve_protocol(name).to_dict()))  # as SQLite holds it
        assert project_protocol(stored) == load_protocol(name)
    legacy = {"name": "mqm", "kind": "mqm", "severities": ["minor"], "categories": {"style": ["awkward"]}}
    assert project_protocol(legacy) == load_protocol("mqm")  # projects made before protocol files
    l3 = resolve_protocol({"name": "l3", "kind": "likert",
                           "scales": [{"name": "adequacy", "min": 1, "max": 3, "anchors": {1: "bad", 3: "good"}}]})
    assert l3.scales[0].anchors == {1: "bad", 3: "good"} and l3.scales[0].values() == [1, 2, 3]
    for bad in ({"name": "x", "kind": "stars"}, {"name": "x", "kind": "likert", "scales": []},
                {"name": "x", "kind": "esa", "scales": [{"name": "score", "min": 0, "max": 100,
                                                         "anchors": {150: "?"}}], "score": {"scale": "score"}},
                {"name": "x", "kind": "likert", "scales": [{"name": "served", "min": 1, "max": 3}]}):
        with pytest.raises(ProtocolError):
            resolve_protocol(bad)
    postedit = load_protocol("postedit")
    with pytest.raises(FieldError) as err:
        validate_submission(postedit, {"post_edit": "  "}, "x")
    assert err.value.field == "post_edit"
    assert validate_submission(postedit, {"post_edit": "Gut."}, "x") == {"post_edit": "Gut."}
    mqm = load_protocol("mqm")
    missing = validate_submission(mqm, {"errors": json.dumps([{"start": None, "end": None, "severity": "major",
                                                               "category": "accuracy/omission"}])}, "x")
    assert missing == {"errors": [{"start": None, "end": None, "severity": "major", "category": "accuracy/omission"}]}
    with pytest.raises(FieldError) as err:  # categories come from mqm.yaml, not from the app
        validate_submission(mqm, {"errors": json.dumps([{"start": 0, "end": 1, "severity": "minor",
                                                         "category": "style/awkward"}])}, "x")
    assert err.value.field == "errors[0]" and "style/awkward" in err.value.reason


def test_module_entry_point_creates_an_admin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BABELVL_ADMIN_PASSWORD", PASSWORD)
    assert app_main(["--db", str(tmp_path / "x.sqlite"), "--create-admin", "root"]) == 0
    assert app_main(["--db", str(tmp_path / "x.sqlite"), "--create-admin", "root"]) == 2  # exists
    assert rows(tmp_path / "x.sqlite", "SELECT role FROM users")[0]["role"] == "admin"


# --- a real server --------------------------------------------------------------------------------

@contextmanager
def running_server(app: Any) -> Iterator[str]:
    """uvicorn on a free loopback port in a thread; stops by itself when the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_concurrent_annotators_on_a_real_server(tmp_path: Path) -> None:
    """5 annotators x 40 items, every submission sent from a pool of threads at once, with some
    double clicks resent concurrently: exactly 200 annotations, each (item, annotator) once."""
    path = tmp_path / "app.sqlite"
    annotators = [f"ann{i}" for i in range(5)]
    for name in annotators:
        create_user(path, name, PASSWORD)
    create_project(path, "load", "likert")
    plan = tmp_path / "plan.jsonl"
    plan.write_text(jsonl([{**it, "image_path": None, "annotators": annotators} for it in sample_items(40)]))
    from babelvl.quality.app import import_plan

    import_plan(path, "load", plan)
    rng = random.Random(7)
    with running_server(create_app(path)) as base:
        clients = {name: httpx.Client(base_url=base, timeout=10) for name in annotators}  # thread-safe
        for name, client in clients.items():
            login(client, name)
        jobs = [(name, ITEM(i), rng.random() < 0.15) for name in annotators for i in range(40)]
        rng.shuffle(jobs)

        def work(job: tuple[str, str, bool]) -> list[int]:
            name, item_id, double = job
            c = clients[name]
            form = open_form(c, "load", item_id)
            values = {"adequacy": str(rng.randint(1, 5)), "fluency": "3"}
            if not double:
                return [submit(c, "load", item_id, values, form).status_code]
            with ThreadPoolExecutor(2) as pair:  # the same form sent twice at once
                return list(pair.map(lambda _: submit(c, "load", item_id, values, form).status_code, range(2)))

        started = time.perf_counter()
        try:
            with ThreadPoolExecutor(max_workers=16) as pool:
                statuses = [s for batch in pool.map(work, jobs, timeout=60) for s in batch]
        finally:
            for client in clients.values():
                client.close()
        elapsed = time.perf_counter() - started
    doubles = sum(1 for j in jobs if j[2])
    assert statuses == [303] * (200 + doubles)
    stored = rows(path, "SELECT item_id, annotator_id, revisions FROM annotations")
    assert len(stored) == 200
    assert len({(r["item_id"], r["annotator_id"]) for r in stored}) == 200
    assert {r["revisions"] for r in stored} == {1}
    assert len(export_annotations(path, "load")) == 200
    print(f"\nconcurrency: {200 + doubles} POSTs ({doubles} double clicks) + 200 GETs in {elapsed:.2f}s")


def test_committed_annotation_survives_a_killed_server(db: Path) -> None:
    """Kill -9 the server right after it answered: the annotation is in the database."""
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "babelvl.quality.app", "--db", str(db), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(base + "/login", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None, "server did not start"
                time.sleep(0.1)
        with httpx.Client(base_url=base, timeout=10) as c:
            login(c, "alice")
            assert submit(c, "lik", ITEM(0), {"adequacy": "2", "fluency": "4"}).status_code == 303
        proc.kill()
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    (row,) = rows(db, "SELECT values_json FROM annotations")
    assert json.loads(row["values_json"]) == {"adequacy": 2, "fluency": 4}
