"""Set-up and export without the web UI, for the CLI and scripts: users, projects, plan import."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from babelvl.errors import InputError
from babelvl.quality.schema import Annotation

from . import auth
from .db import init_db, open_store, to_annotation
from .imports import ImportBatch, attach_images, check_batch, parse_upload
from .protocol_forms import resolve_protocol


def create_user(db_path: str | Path, name: str, password: str, role: str = "annotator") -> None:
    """Add a user; raises InputError for a bad name, a short password or an existing user."""
    problem = auth.check_new_credentials(name, password)
    if problem or role not in ("admin", "annotator"):
        raise InputError(problem or "role must be admin or annotator", field="name" if problem else "role")
    init_db(db_path)
    with open_store(db_path) as store:
        try:
            store.create_user(name, role, auth.hash_password(password), actor="cli")
        except sqlite3.IntegrityError:
            raise InputError(f"user {name!r} already exists", field="name") from None


def create_admin(db_path: str | Path, name: str, password: str) -> None:
    """First set-up: the admin who then creates annotators and projects in the web UI."""
    create_user(db_path, name, password, role="admin")


def ensure_admin(db_path: str | Path, name: str, password: str | None) -> str:
    """``serve --admin NAME``: make sure NAME is an admin who can log in; safe to repeat on every start.

    * NAME does not exist: it is created with ``password`` (required then) -> ``"created"``.
    * NAME is an admin: it is kept. If ``password`` is given and is not its current password, the
      password is reset to it (ending its sessions), so whoever runs the server can recover a lost
      admin password by setting ``$BABELVL_ADMIN_PASSWORD``; a disabled admin is enabled again
      -> ``"kept"`` or ``"password reset"``.
    * NAME is an annotator: InputError (an annotator is never promoted silently).
    """
    init_db(db_path)
    with open_store(db_path) as store:
        found = store.user_with_hash(name) if auth.NAME_RE.match(name) else None
        if found is None:
            if not password:
                raise InputError(f"admin {name!r} does not exist yet: set BABELVL_ADMIN_PASSWORD to create it",
                                 field="--admin")
            create_admin(db_path, name, password)
            return "created"
        user, stored = found
        if not user.is_admin:
            raise InputError(f"user {name!r} exists and is an annotator, not an admin", field="--admin")
        outcome = "kept"
        if password and not auth.verify_password(password, stored):
            problem = auth.password_problem(password, name=name)
            if problem:
                raise InputError(f"BABELVL_ADMIN_PASSWORD: {problem}", field="--admin")
            store.set_password(user, auth.hash_password(password), actor="cli")
            outcome = "password reset"
        if user.disabled:
            store.set_disabled(user, False, actor="cli")
    return outcome


def create_project(db_path: str | Path, name: str, protocol: str | Path | dict[str, Any]) -> None:
    """A project under a protocol name (shipped or in ``BABELVL_PROTOCOL_PATH``), a protocol YAML
    path, or a protocol mapping; the project stores the protocol's whole definition."""
    if not auth.NAME_RE.match(name):
        raise InputError("project names use letters, digits, '.', '_' and '-'", field="name")
    proto = resolve_protocol(protocol)
    init_db(db_path)
    with open_store(db_path) as store:
        try:
            store.create_project(name, proto.to_dict(), actor="cli")
        except sqlite3.IntegrityError:
            raise InputError(f"project {name!r} already exists", field="name") from None


def import_plan(db_path: str | Path, project: str, plan_path: str | Path,
                assignments_path: str | Path | None = None) -> tuple[int, int]:
    """Import a plan file (images read from its folder); all or nothing. Returns (items, assignments)."""
    plan_path = Path(plan_path)
    batch = ImportBatch()
    parse_upload(batch, plan_path.read_bytes(), plan_path.name, "plan")
    if assignments_path is not None:
        parse_upload(batch, Path(assignments_path).read_bytes(), Path(assignments_path).name, "assignments")
    with open_store(db_path) as store:
        proj = store.project(project)
        if proj is None:
            raise InputError(f"no project named {project!r}", field="project")
        users = store.users_by_name(a.annotator for a in batch.assignments)
        check_batch(batch, store.item_ids(proj.id), store.assignment_pairs(proj.id), set(users))
        items = attach_images(batch, {}, image_dir=plan_path.parent)
        if batch.problems:
            raise InputError("nothing imported:\n  " + "\n  ".join(batch.problems), file=str(plan_path))
        store.import_batch(proj, items, [(a.item_id, users[a.annotator].id) for a in batch.assignments],
                           actor="cli")
    return len(items), len(batch.assignments)


def export_annotations(db_path: str | Path, project: str) -> list[Annotation]:
    with open_store(db_path) as store:
        proj = store.project(project)
        if proj is None:
            raise InputError(f"no project named {project!r}", field="project")
        return [to_annotation(r) for r in store.export_rows(proj.id)]
