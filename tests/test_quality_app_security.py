"""The annotation app against strangers: throttling that cannot lock a user out, caps on what
unauthenticated requests store, the password policy, admin control of accounts, and a clock of
time per item that the browser cannot set."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from babelvl.cli import main
from babelvl.errors import InputError
from babelvl.quality.app import create_admin, create_app, create_project, create_user, ensure_admin, routes_auth
from babelvl.quality.app import throttle
from babelvl.quality.app.auth import password_problem
from babelvl.quality.app.db import open_store

from test_quality_app import ITEM, PASSWORD, hidden, item_path, login, open_form, rows, sample_items, submit

ATTACKER = ("203.0.113.9", 40000)
ALICE_HOME = ("198.51.100.7", 40001)
ADMIN_DESK = ("192.0.2.10", 40002)


@pytest.fixture()
def app_db(tmp_path: Path) -> Path:
    path = tmp_path / "app.sqlite"
    create_admin(path, "admin", PASSWORD)
    for name in ("alice", "bob"):
        create_user(path, name, PASSWORD)
    create_project(path, "lik", "likert")
    plan = tmp_path / "plan.jsonl"
    import json

    plan.write_text("".join(json.dumps({**it, "image_path": None, "annotators": ["alice"]}) + "\n"
                            for it in sample_items(2)))
    from babelvl.quality.app import import_plan

    import_plan(path, "lik", plan)
    return path


def attempt(client: TestClient, name: str, password: str):
    token = hidden(client.get("/login").text, "csrf_token")
    return client.post("/login", data={"csrf_token": token, "name": name, "password": password},
                       follow_redirects=False)


# --- throttling -------------------------------------------------------------------------------------

def test_a_stranger_cannot_lock_a_user_out(app_db: Path, monkeypatch) -> None:
    monkeypatch.setattr(throttle, "FIRST_DELAY", 60.0)  # waits longer than the test: no attempt slips through
    app = create_app(app_db)
    stranger = TestClient(app, client=ATTACKER)
    statuses = [attempt(stranger, name, "wrong-password-1").status_code
                for _ in range(15) for name in ("alice", "admin")]
    assert statuses.count(401) == 2 * throttle.FREE_FAILURES["pair"] and statuses.count(429) == 20
    throttled = attempt(stranger, "alice", PASSWORD)  # the stranger is slowed, even with the right password
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) >= 1
    # alice, from her own address and a browser that never logged in before, is not affected
    assert attempt(TestClient(app, client=ALICE_HOME), "alice", PASSWORD).status_code == 303
    assert attempt(TestClient(app, client=ADMIN_DESK), "admin", PASSWORD).status_code == 303


def test_spraying_names_from_one_address_is_slowed(app_db: Path) -> None:
    app = create_app(app_db)
    sprayer = TestClient(app, client=ATTACKER)
    statuses = [attempt(sprayer, f"user{i}", "wrong-password-1").status_code for i in range(24)]
    assert statuses[:throttle.FREE_FAILURES["addr"]] == [401] * throttle.FREE_FAILURES["addr"]
    assert statuses[-1] == 429
    assert attempt(TestClient(app, client=ALICE_HOME), "alice", PASSWORD).status_code == 303


def test_delays_grow_and_are_forgotten(app_db: Path) -> None:
    with open_store(app_db) as store:
        guess = throttle.Attempt.of("alice", "203.0.113.9", trusted_device=False)
        now, delays = 1_000_000.0, []
        for failures in range(1, 13):
            assert throttle.begin(store, guess, now) == 0  # allowed once the previous delay has passed
            delay = throttle.delay_after("pair", failures)
            if delay:  # just before it has passed, the attempt is refused (and not counted)
                assert 0 < throttle.begin(store, guess, now + delay - 0.5) <= delay
            delays.append(delay)
            now += delay
        assert delays[:4] == [0] * 4 and delays[4:8] == [1, 2, 4, 8]
        assert throttle.delay_after("pair", 100) == throttle.MAX_DELAY
        assert throttle.begin(store, guess, now + throttle.FORGET_AFTER + 1) == 0  # forgotten after an hour
        (row,) = rows(app_db, "SELECT failures FROM login_throttle WHERE key LIKE 'pair:%'")
        assert row["failures"] == 1


def test_a_distributed_guess_slows_the_name_but_not_the_owners_browser(app_db: Path) -> None:
    app = create_app(app_db)
    alice = TestClient(app, client=ALICE_HOME)
    assert attempt(alice, "alice", PASSWORD).status_code == 303  # her browser now holds a device cookie
    with open_store(app_db) as store:  # a botnet: one failure each from many addresses
        for i in range(throttle.FREE_FAILURES["name"]):
            assert throttle.begin(store, throttle.Attempt.of("alice", f"10.1.{i}.1", trusted_device=False)) == 0
    assert attempt(TestClient(app, client=("10.9.9.9", 1)), "alice", PASSWORD).status_code == 429
    assert attempt(alice, "alice", PASSWORD).status_code == 303


def test_a_stranger_behind_the_users_own_address_does_not_slow_her_browser(app_db: Path, monkeypatch) -> None:
    monkeypatch.setattr(throttle, "FIRST_DELAY", 60.0)
    app = create_app(app_db)
    alice = TestClient(app, client=ALICE_HOME)
    assert attempt(alice, "alice", PASSWORD).status_code == 303  # her browser holds a device cookie now
    same_nat = TestClient(app, client=ALICE_HOME)  # a stranger behind the same NAT
    statuses = [attempt(same_nat, "alice", "wrong-password-1").status_code for _ in range(30)]
    assert statuses[-1] == 429
    assert attempt(alice, "alice", PASSWORD).status_code == 303
    for _ in range(throttle.FREE_FAILURES["dev"]):  # her device cookie has a counter of its own
        attempt(alice, "alice", "wrong-password-1")
    assert attempt(alice, "alice", PASSWORD).status_code == 429


def test_throttled_attempts_cost_no_password_check(app_db: Path, monkeypatch) -> None:
    app = create_app(app_db)
    stranger = TestClient(app, client=ATTACKER)
    for _ in range(throttle.FREE_FAILURES["pair"]):
        attempt(stranger, "alice", "wrong-password-1")
    checks = []
    monkeypatch.setattr(routes_auth.auth, "verify_password", lambda *a: checks.append(a) or False)
    assert attempt(stranger, "alice", "wrong-password-1").status_code == 429 and not checks


# --- what strangers can store -------------------------------------------------------------------------

def test_fields_from_unauthenticated_requests_are_capped(app_db: Path, monkeypatch) -> None:
    app = create_app(app_db)
    client = TestClient(app, client=ATTACKER)
    token = hidden(client.get("/login").text, "csrf_token")
    huge = client.post("/login", data={"csrf_token": token, "name": "x" * 900_000, "password": "p"})
    assert huge.status_code == 413
    long_name = attempt(client, "y" * 5000, "wrong-password-1")
    assert long_name.status_code == 401
    (entry,) = rows(app_db, "SELECT actor, detail FROM audit WHERE action = 'login_failed'")
    assert entry["actor"] == "-" and "yyyy" not in entry["detail"] and len(entry["detail"]) < 200
    assert attempt(client, "alice", "p" * 100_000).status_code == 413
    assert attempt(TestClient(app, client=("10.4.0.1", 1)), "alice", "p" * 5_000).status_code == 401
    monkeypatch.setattr(routes_auth, "MAX_FAILED_LOGIN_ENTRIES", 5)
    for i in range(12):
        attempt(TestClient(app, client=(f"10.2.{i}.1", 1)), "bob", "wrong-password-1")
    assert rows(app_db, "SELECT COUNT(*) AS n FROM audit WHERE action = 'login_failed'")[0]["n"] == 5


def test_throttle_table_is_bounded(app_db: Path, monkeypatch) -> None:
    monkeypatch.setattr(throttle, "MAX_ROWS", 30)
    with open_store(app_db) as store:
        for i in range(40):
            throttle.begin(store, throttle.Attempt.of(f"name{i}", f"10.3.{i}.1", trusted_device=False))
    assert rows(app_db, "SELECT COUNT(*) AS n FROM login_throttle")[0]["n"] <= 30


def test_ipv6_clients_are_counted_per_64_block() -> None:
    assert throttle.client_address("2001:db8:1:2:aaaa::1") == throttle.client_address("2001:db8:1:2:bbbb::9")
    assert throttle.client_address("2001:db8:1:3::1") != throttle.client_address("2001:db8:1:2::1")
    assert throttle.client_address("::ffff:192.0.2.1") == "192.0.2.1"
    assert throttle.client_address(None) == "unknown" and len(throttle.client_address("z" * 500)) == 64


# --- password policy ------------------------------------------------------------------------------------

@pytest.mark.parametrize("password", ["12345678", "1234567890", "password123", "alice2024!", "qwertyuiop",
                                      "alicealice1", "p" * 300])
def test_weak_passwords_are_refused(password: str, tmp_path: Path) -> None:
    assert password_problem(password, name="alice")
    with pytest.raises(InputError):
        create_user(tmp_path / "app.sqlite", "alice", password)


def test_strong_passwords_are_accepted() -> None:
    for password in (PASSWORD, "blue-piano-river-42", "xK9#mq2Lp!vv"):
        assert password_problem(password, name="alice") is None, password


# --- admin control of accounts ----------------------------------------------------------------------------

def test_admin_disables_and_enables_a_user(app_db: Path) -> None:
    app = create_app(app_db)
    alice = TestClient(app, client=ALICE_HOME)
    login(alice, "alice")
    admin = TestClient(app, client=ADMIN_DESK)
    csrf = login(admin, "admin")
    assert admin.post("/admin/users/alice/disable", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert alice.get("/queue", follow_redirects=False).status_code == 303  # her session is gone
    refused = attempt(TestClient(app, client=ALICE_HOME), "alice", PASSWORD)
    assert refused.status_code == 403 and "disabled" in refused.text
    assert "disabled" in admin.get("/admin").text
    assert admin.post("/admin/users/admin/disable", data={"csrf_token": csrf}).status_code == 400
    assert admin.post("/admin/users/alice/disable", data={}).status_code == 403  # CSRF still required
    assert admin.post("/admin/users/alice/enable", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert attempt(TestClient(app, client=ALICE_HOME), "alice", PASSWORD).status_code == 303
    assert admin.post("/admin/users/nobody/disable", data={"csrf_token": csrf}).status_code == 404
    actions = [r["action"] for r in rows(app_db, "SELECT action FROM audit WHERE action LIKE 'user_%abled'")]
    assert actions == ["user_disabled", "user_enabled"]


def test_admin_resets_a_password(app_db: Path) -> None:
    app = create_app(app_db)
    bob = TestClient(app, client=ALICE_HOME)
    login(bob, "bob")
    admin = TestClient(app, client=ADMIN_DESK)
    csrf = login(admin, "admin")
    weak = admin.post("/admin/users/bob/password", data={"csrf_token": csrf, "password": "12345678"})
    assert weak.status_code == 400 and "not changed" in weak.text
    new = "violet-harbour-engine-7"
    ok = admin.post("/admin/users/bob/password", data={"csrf_token": csrf, "password": new}, follow_redirects=False)
    assert ok.status_code == 303
    assert bob.get("/queue", follow_redirects=False).status_code == 303  # old sessions ended
    assert attempt(TestClient(app, client=("192.0.2.50", 1)), "bob", PASSWORD).status_code == 401
    assert attempt(TestClient(app, client=("192.0.2.51", 1)), "bob", new).status_code == 303
    annotator = TestClient(app, client=ALICE_HOME)
    csrf_alice = login(annotator, "alice")
    assert annotator.post("/admin/users/bob/password", data={"csrf_token": csrf_alice, "password": new}).status_code == 403


def test_serve_admin_is_idempotent(tmp_path: Path, monkeypatch, capsys) -> None:
    db = tmp_path / "app.sqlite"
    assert ensure_admin(db, "admin", PASSWORD) == "created"
    assert ensure_admin(db, "admin", PASSWORD) == "kept"
    assert ensure_admin(db, "admin", None) == "kept"
    assert ensure_admin(db, "admin", "violet-harbour-engine-7") == "password reset"
    app = create_app(db)
    assert attempt(TestClient(app, client=ADMIN_DESK), "admin", "violet-harbour-engine-7").status_code == 303
    create_user(db, "carol", PASSWORD)
    with pytest.raises(InputError, match="annotator"):
        ensure_admin(db, "carol", PASSWORD)
    with pytest.raises(InputError, match="does not exist"):
        ensure_admin(db, "newadmin", None)
    # the README's command, started twice
    import babelvl.quality.app as app_pkg

    served = []
    monkeypatch.setattr(app_pkg, "serve", lambda *a, **k: served.append(a))
    monkeypatch.setenv("BABELVL_ADMIN_PASSWORD", "violet-harbour-engine-7")
    for _ in range(2):
        assert main(["annotate", "serve", "--db", str(db), "--admin", "admin"]) == 0
    assert len(served) == 2 and "admin admin: kept" in capsys.readouterr().err
    assert rows(db, "SELECT COUNT(*) AS n FROM users WHERE name = 'admin'")[0]["n"] == 1


def test_old_databases_gain_the_disabled_column(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL, "
                 "password_hash TEXT NOT NULL, created TEXT NOT NULL)")
    conn.commit()
    conn.close()
    create_admin(db, "admin", PASSWORD)
    assert rows(db, "SELECT disabled FROM users")[0]["disabled"] == 0


# --- comments and time ------------------------------------------------------------------------------------

def test_admin_reads_annotators_comments(app_db: Path) -> None:
    app = create_app(app_db)
    alice = TestClient(app, client=ALICE_HOME)
    login(alice, "alice")
    note = "The German uses <Auto> but the image shows a truck"
    assert submit(alice, "lik", ITEM(0), {"adequacy": "2", "fluency": "4", "comment": note}).status_code == 303
    assert submit(alice, "lik", ITEM(1), {"adequacy": "5", "fluency": "5"}).status_code == 303
    admin = TestClient(app, client=ADMIN_DESK)
    login(admin, "admin")
    page = admin.get("/admin/projects/lik/comments")
    assert page.status_code == 200 and "image shows a truck" in page.text and "&lt;Auto&gt;" in page.text
    assert ITEM(0) in page.text and ITEM(1) not in page.text and "alice" in page.text
    assert "/admin/projects/lik/comments" in admin.get("/admin/projects/lik").text
    assert alice.get("/admin/projects/lik/comments").status_code == 403


def test_time_is_the_servers_even_for_a_replayed_old_stamp(app_db: Path) -> None:
    app = create_app(app_db)
    alice = TestClient(app, client=ALICE_HOME)
    login(alice, "alice")
    old_form = open_form(alice, "lik", ITEM(0))
    with open_store(app_db) as store:  # the page was first served a day ago ...
        store.conn.execute("UPDATE page_views SET first_served = first_served - 86400, last_served = last_served - 5")
    assert submit(alice, "lik", ITEM(0), {"adequacy": "3", "fluency": "3", "client_seconds": "86000"},
                  old_form).status_code == 303
    (row,) = rows(app_db, "SELECT seconds FROM annotations")
    assert 5 <= row["seconds"] < 30  # ... so the latest view counts, and never the browser's number
