"""SQLite storage of the annotation app: one file per app, WAL, one connection per request.

Every write runs in its own ``BEGIN IMMEDIATE`` transaction that commits before the server answers,
so a crash loses no annotation the annotator saw as saved. ``synchronous=FULL`` makes the commit
durable against a power loss too, not only a killed process.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from babelvl.quality.schema import Annotation

BUSY_TIMEOUT_MS = 30_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'annotator')),
    password_hash TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS projects (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    protocol TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    project_id INTEGER NOT NULL REFERENCES projects(id),
    item_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    data TEXT NOT NULL,
    image BLOB,
    image_type TEXT,
    image_path TEXT,
    PRIMARY KEY (project_id, item_id)
);
CREATE TABLE IF NOT EXISTS assignments (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    annotator_id INTEGER NOT NULL REFERENCES users(id),
    UNIQUE (project_id, item_id, annotator_id),
    FOREIGN KEY (project_id, item_id) REFERENCES items(project_id, item_id)
);
CREATE TABLE IF NOT EXISTS annotations (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    annotator_id INTEGER NOT NULL REFERENCES users(id),
    protocol TEXT NOT NULL,
    values_json TEXT NOT NULL,
    seconds REAL,
    form_nonce TEXT NOT NULL,
    revisions INTEGER NOT NULL DEFAULT 1,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    UNIQUE (project_id, item_id, annotator_id),
    FOREIGN KEY (project_id, item_id) REFERENCES items(project_id, item_id)
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_actor_action ON audit(actor, action, at);
CREATE INDEX IF NOT EXISTS audit_action_id ON audit(action, id);
CREATE TABLE IF NOT EXISTS login_throttle (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last REAL NOT NULL,
    next_allowed REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS login_throttle_last ON login_throttle(last);
CREATE TABLE IF NOT EXISTS page_views (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project_id INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    first_served REAL NOT NULL,
    last_served REAL NOT NULL,
    PRIMARY KEY (user_id, project_id, item_id)
);
CREATE INDEX IF NOT EXISTS assignments_annotator ON assignments(annotator_id, project_id);
"""


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def connect(path: str | Path) -> sqlite3.Connection:
    """A fresh connection; the caller owns it for one request (it may hop threads, never shared)."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                           check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def init_db(path: str | Path) -> None:
    """Create the file, switch it to WAL and create the tables (idempotent)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = connect(path)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(SCHEMA)
        columns = {row["name"] for row in conn.execute("PRAGMA table_info(users)")}
        if "disabled" not in columns:  # databases made before users could be disabled
            conn.execute("ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0")
    finally:
        conn.close()


@contextmanager
def open_store(path: str | Path) -> Iterator["Store"]:
    conn = connect(path)
    try:
        yield Store(conn)
    finally:
        conn.close()


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    disabled: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Project:
    id: int
    name: str
    protocol: dict[str, Any]
    created: str


@dataclass(frozen=True)
class NewItem:
    """An item ready to store: its SampleItem JSON and, when known, its image."""

    item_id: str
    data: dict[str, Any]
    image: bytes | None = None
    image_type: str | None = None
    image_path: str | None = None


class Store:
    """Queries and writes over one connection; writes go through :meth:`transaction`."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` takes the write lock up front, so concurrent writers wait
        (busy_timeout) instead of failing on a lock upgrade; the commit happens before return."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _one(self, sql: str, args: Iterable[Any] = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, tuple(args)).fetchone()

    # --- meta ---------------------------------------------------------------------------------

    def secret(self) -> str:
        """The app's signing secret, made once and kept in the database so restarts keep sessions."""
        row = self._one("SELECT value FROM meta WHERE key = 'secret'")
        if row:
            return str(row["value"])
        with self.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('secret', ?)",
                         (secrets.token_hex(32),))
        return str(self._one("SELECT value FROM meta WHERE key = 'secret'")["value"])  # type: ignore[index]

    # --- audit --------------------------------------------------------------------------------

    def audit(self, actor: str, action: str, **detail: Any) -> None:
        """Append to the audit log; call inside the transaction of the write it describes."""
        self.conn.execute("INSERT INTO audit(at, actor, action, detail) VALUES (?, ?, ?, ?)",
                          (utc_now(), actor, action, json.dumps(detail, ensure_ascii=False)))

    def audit_tail(self, limit: int = 200) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,)).fetchall()

    def prune_failed_logins(self, keep: int) -> None:
        """Keep only the latest ``keep`` failed-login entries: strangers must not grow the log without bound."""
        self.conn.execute("DELETE FROM audit WHERE action = 'login_failed' AND id <= COALESCE((SELECT id FROM audit "
                          "WHERE action = 'login_failed' ORDER BY id DESC LIMIT 1 OFFSET ?), -1)", (keep,))

    # --- users and sessions -------------------------------------------------------------------

    def create_user(self, name: str, role: str, password_hash: str, *, actor: str) -> int:
        with self.transaction() as conn:
            cur = conn.execute("INSERT INTO users(name, role, password_hash, created) VALUES (?, ?, ?, ?)",
                               (name, role, password_hash, utc_now()))
            self.audit(actor, "user_created", name=name, role=role)
        return int(cur.lastrowid)  # type: ignore[arg-type]

    def user_with_hash(self, name: str) -> tuple[User, str] | None:
        row = self._one("SELECT id, name, role, disabled, password_hash FROM users WHERE name = ?", (name,))
        return (_user(row), row["password_hash"]) if row else None

    def users(self) -> list[User]:
        rows = self.conn.execute("SELECT id, name, role, disabled FROM users ORDER BY name").fetchall()
        return [_user(r) for r in rows]

    def users_by_name(self, names: Iterable[str]) -> dict[str, User]:
        wanted = set(names)
        return {u.name: u for u in self.users() if u.name in wanted}

    def set_disabled(self, user: User, disabled: bool, *, actor: str) -> None:
        """Disable (and log out everywhere) or enable a user; their annotations are kept."""
        with self.transaction() as conn:
            conn.execute("UPDATE users SET disabled = ? WHERE id = ?", (int(disabled), user.id))
            if disabled:
                conn.execute("DELETE FROM sessions WHERE user_id = ?", (user.id,))
            self.audit(actor, "user_disabled" if disabled else "user_enabled", name=user.name)

    def set_password(self, user: User, password_hash: str, *, actor: str) -> None:
        """A new password; every session of the user ends."""
        with self.transaction() as conn:
            conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user.id))
            conn.execute("DELETE FROM sessions WHERE user_id = ?", (user.id,))
            self.audit(actor, "password_reset", name=user.name)

    def create_session(self, token_hash: str, user: User, csrf: str, expires: float) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM sessions WHERE expires < ?", (time.time(),))
            conn.execute("INSERT INTO sessions(token_hash, user_id, csrf_token, expires) VALUES (?, ?, ?, ?)",
                         (token_hash, user.id, csrf, expires))
            self.audit(user.name, "login")

    def session(self, token_hash: str) -> tuple[User, str] | None:
        """(user, csrf token) of a live session of an enabled user."""
        row = self._one("SELECT u.id, u.name, u.role, u.disabled, s.csrf_token FROM sessions s "
                        "JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND s.expires > ? "
                        "AND u.disabled = 0", (token_hash, time.time()))
        return (_user(row), row["csrf_token"]) if row else None

    def delete_session(self, token_hash: str, actor: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))
            self.audit(actor, "logout")

    # --- login throttle (see throttle.py) -----------------------------------------------------

    def throttle_rows(self, keys: Iterable[str]) -> dict[str, sqlite3.Row]:
        keys = list(keys)
        marks = ",".join("?" * len(keys))
        rows = self.conn.execute(f"SELECT * FROM login_throttle WHERE key IN ({marks})", keys).fetchall()
        return {r["key"]: r for r in rows}

    def throttle_put(self, key: str, failures: int, last: float, next_allowed: float) -> None:
        self.conn.execute("INSERT INTO login_throttle(key, failures, last, next_allowed) VALUES (?, ?, ?, ?) "
                          "ON CONFLICT(key) DO UPDATE SET failures = excluded.failures, last = excluded.last, "
                          "next_allowed = excluded.next_allowed", (key, failures, last, next_allowed))

    def throttle_delete(self, keys: Iterable[str]) -> None:
        self.conn.executemany("DELETE FROM login_throttle WHERE key = ?", [(k,) for k in keys])

    def throttle_prune(self, older_than: float, max_rows: int) -> None:
        self.conn.execute("DELETE FROM login_throttle WHERE last < ?", (older_than,))
        self.conn.execute("DELETE FROM login_throttle WHERE key IN (SELECT key FROM login_throttle "
                          "ORDER BY last DESC LIMIT -1 OFFSET ?)", (max_rows,))

    # --- item page views: the server's clock of time per item ---------------------------------

    def page_served(self, user_id: int, project_id: int, item_id: str, now: float) -> None:
        """Note that the item page was served; the first serve since the last submission is kept.

        Written without waiting for the disk (``synchronous=NORMAL`` under WAL): a page view lost to a
        power cut only leaves one item's time unmeasured, and page loads stay fast."""
        self.conn.execute("PRAGMA synchronous = NORMAL")
        try:
            with self.transaction() as conn:
                conn.execute("INSERT INTO page_views(user_id, project_id, item_id, first_served, last_served) "
                             "VALUES (?, ?, ?, ?, ?) ON CONFLICT(user_id, project_id, item_id) DO UPDATE SET "
                             "last_served = excluded.last_served", (user_id, project_id, item_id, now, now))
        finally:
            self.conn.execute("PRAGMA synchronous = FULL")

    def take_page_view(self, user_id: int, project_id: int, item_id: str) -> tuple[float, float] | None:
        """(first, last) serve time of the item page since the last submission, and forget it."""
        with self.transaction() as conn:
            row = conn.execute("SELECT first_served, last_served FROM page_views WHERE user_id = ? AND "
                               "project_id = ? AND item_id = ?", (user_id, project_id, item_id)).fetchone()
            conn.execute("DELETE FROM page_views WHERE user_id = ? AND project_id = ? AND item_id = ?",
                         (user_id, project_id, item_id))
        return (row["first_served"], row["last_served"]) if row else None

    # --- projects and items -------------------------------------------------------------------

    def create_project(self, name: str, protocol: dict[str, Any], *, actor: str) -> int:
        with self.transaction() as conn:
            cur = conn.execute("INSERT INTO projects(name, protocol, created) VALUES (?, ?, ?)",
                               (name, json.dumps(protocol, ensure_ascii=False), utc_now()))
            self.audit(actor, "project_created", project=name, protocol=protocol.get("name"))
        return int(cur.lastrowid)  # type: ignore[arg-type]

    def project(self, name: str) -> Project | None:
        row = self._one("SELECT * FROM projects WHERE name = ?", (name,))
        return Project(row["id"], row["name"], json.loads(row["protocol"]), row["created"]) if row else None

    def projects(self) -> list[sqlite3.Row]:
        """Projects with item, assignment and annotation counts (for the admin dashboard)."""
        return self.conn.execute(
            "SELECT p.id, p.name, p.protocol, p.created, "
            "(SELECT COUNT(*) FROM items i WHERE i.project_id = p.id) AS items, "
            "(SELECT COUNT(*) FROM assignments a WHERE a.project_id = p.id) AS assignments, "
            "(SELECT COUNT(*) FROM annotations n WHERE n.project_id = p.id) AS annotations "
            "FROM projects p ORDER BY p.name").fetchall()

    def item_ids(self, project_id: int) -> set[str]:
        rows = self.conn.execute("SELECT item_id FROM items WHERE project_id = ?", (project_id,))
        return {r["item_id"] for r in rows}

    def assignment_pairs(self, project_id: int) -> set[tuple[str, str]]:
        rows = self.conn.execute("SELECT a.item_id, u.name FROM assignments a JOIN users u "
                                 "ON u.id = a.annotator_id WHERE a.project_id = ?", (project_id,))
        return {(r["item_id"], r["name"]) for r in rows}

    def import_batch(self, project: Project, items: list[NewItem], assignments: list[tuple[str, int]],
                     *, actor: str) -> None:
        """Store items and (item_id, annotator id) assignments all at once or not at all."""
        with self.transaction() as conn:
            start = conn.execute("SELECT COALESCE(MAX(position), -1) + 1 AS n FROM items "
                                 "WHERE project_id = ?", (project.id,)).fetchone()["n"]
            conn.executemany(
                "INSERT INTO items(project_id, item_id, position, data, image, image_type, image_path) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(project.id, it.item_id, start + i, json.dumps(it.data, ensure_ascii=False), it.image,
                  it.image_type, it.image_path) for i, it in enumerate(items)])
            conn.executemany("INSERT INTO assignments(project_id, item_id, annotator_id) VALUES (?, ?, ?)",
                             [(project.id, item_id, user_id) for item_id, user_id in assignments])
            self.audit(actor, "items_imported", project=project.name, items=len(items),
                       assignments=len(assignments))

    def progress(self, project_id: int) -> list[sqlite3.Row]:
        """Per annotator: assigned and done counts."""
        return self.conn.execute(
            "SELECT u.name, COUNT(a.id) AS assigned, COUNT(n.id) AS done FROM assignments a "
            "JOIN users u ON u.id = a.annotator_id LEFT JOIN annotations n ON n.project_id = a.project_id "
            "AND n.item_id = a.item_id AND n.annotator_id = a.annotator_id WHERE a.project_id = ? "
            "GROUP BY u.name ORDER BY u.name", (project_id,)).fetchall()

    # --- what an annotator may see ------------------------------------------------------------

    def queue(self, user_id: int, project_id: int | None = None) -> list[sqlite3.Row]:
        """The user's assigned items in a stable order, with their own annotation state only."""
        sql = ("SELECT p.name AS project, p.id AS project_id, a.item_id, i.data, n.id AS annotation_id, "
               "n.updated FROM assignments a JOIN projects p ON p.id = a.project_id "
               "JOIN items i ON i.project_id = a.project_id AND i.item_id = a.item_id "
               "LEFT JOIN annotations n ON n.project_id = a.project_id AND n.item_id = a.item_id "
               "AND n.annotator_id = a.annotator_id WHERE a.annotator_id = ?")
        args: list[Any] = [user_id]
        if project_id is not None:
            sql += " AND a.project_id = ?"
            args.append(project_id)
        return self.conn.execute(sql + " ORDER BY p.name, i.position", args).fetchall()

    def assigned_item(self, project_id: int, item_id: str, user_id: int) -> sqlite3.Row | None:
        """The item row, only when it is assigned to this user (None otherwise: no existence leak)."""
        return self._one("SELECT i.* FROM items i JOIN assignments a ON a.project_id = i.project_id "
                         "AND a.item_id = i.item_id WHERE i.project_id = ? AND i.item_id = ? "
                         "AND a.annotator_id = ?", (project_id, item_id, user_id))

    def own_annotation(self, project_id: int, item_id: str, user_id: int) -> sqlite3.Row | None:
        return self._one("SELECT * FROM annotations WHERE project_id = ? AND item_id = ? AND annotator_id = ?",
                         (project_id, item_id, user_id))

    def annotation_by_id(self, annotation_id: int) -> sqlite3.Row | None:
        return self._one("SELECT n.*, u.name AS annotator, p.name AS project FROM annotations n "
                         "JOIN users u ON u.id = n.annotator_id JOIN projects p ON p.id = n.project_id "
                         "WHERE n.id = ?", (annotation_id,))

    def save_annotation(self, project: Project, item_id: str, user: User, protocol_name: str,
                        values: dict[str, Any], seconds: float | None, form_nonce: str) -> sqlite3.Row:
        """Insert or update the user's one annotation of the item.

        A re-submission of the same served form (double click, retry) keeps the time already
        counted; a later edit from a new page view adds its time and counts a revision.
        """
        now = utc_now()
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO annotations(project_id, item_id, annotator_id, protocol, values_json, seconds, "
                "form_nonce, revisions, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?) "
                "ON CONFLICT(project_id, item_id, annotator_id) DO UPDATE SET "
                "values_json = excluded.values_json, protocol = excluded.protocol, "
                "seconds = CASE WHEN annotations.form_nonce = excluded.form_nonce THEN annotations.seconds "
                "  WHEN annotations.seconds IS NULL THEN excluded.seconds "
                "  ELSE annotations.seconds + COALESCE(excluded.seconds, 0) END, "
                "revisions = annotations.revisions + (annotations.form_nonce <> excluded.form_nonce), "
                "form_nonce = excluded.form_nonce, updated = excluded.updated",
                (project.id, item_id, user.id, protocol_name, json.dumps(values, ensure_ascii=False),
                 seconds, form_nonce, now, now))
            row = conn.execute("SELECT * FROM annotations WHERE project_id = ? AND item_id = ? "
                               "AND annotator_id = ?", (project.id, item_id, user.id)).fetchone()
            self.audit(user.name, "annotation_saved", project=project.name, item_id=item_id,
                       annotation_id=row["id"], revisions=row["revisions"])
        return row

    def comments(self, project_id: int) -> list[sqlite3.Row]:
        """Annotations that carry a comment, for the admin: item, annotator, comment, when."""
        return self.conn.execute(
            "SELECT n.id, n.item_id, u.name AS annotator, json_extract(n.values_json, '$.comment') AS comment, "
            "n.updated FROM annotations n JOIN users u ON u.id = n.annotator_id JOIN items i "
            "ON i.project_id = n.project_id AND i.item_id = n.item_id WHERE n.project_id = ? "
            "AND COALESCE(json_extract(n.values_json, '$.comment'), '') <> '' ORDER BY i.position, u.name",
            (project_id,)).fetchall()

    def export_rows(self, project_id: int) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT n.*, u.name AS annotator FROM annotations n JOIN users u ON u.id = n.annotator_id "
            "JOIN items i ON i.project_id = n.project_id AND i.item_id = n.item_id "
            "WHERE n.project_id = ? ORDER BY i.position, u.name", (project_id,)).fetchall()


def _user(row: sqlite3.Row) -> User:
    return User(row["id"], row["name"], row["role"], bool(row["disabled"]))


def to_annotation(row: sqlite3.Row) -> Annotation:
    """The exported record of a stored annotation; ``created`` is the time of the submission whose
    values these are (the latest one)."""
    return Annotation(item_id=row["item_id"], annotator=row["annotator"], protocol=row["protocol"],
                      values=json.loads(row["values_json"]), seconds=row["seconds"], created=row["updated"])
