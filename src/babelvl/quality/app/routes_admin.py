"""Admin pages: users (create, disable, reset passwords), projects, imports, export, annotators'
comments and the audit log. Every route requires an admin."""

from __future__ import annotations

import json
import sqlite3
from pathlib import PurePosixPath
from urllib.parse import urlencode

import yaml
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from . import auth, throttle
from .db import Project, Store, User, to_annotation
from .imports import MAX_PROBLEMS, ImportBatch, attach_images, check_batch, parse_upload
from .protocol_forms import ProtocolError, available_protocols, project_protocol, resolve_protocol
from .web import Auth, csrf_form, form_text, get_store, render, require_admin

router = APIRouter(prefix="/admin")


def _dashboard(session: Auth, store: Store, *, error: str | None = None, notice: str | None = None,
               status: int = 200) -> Response:
    projects = [{**dict(row), "protocol": json.loads(row["protocol"]).get("name", "?")} for row in store.projects()]
    return render("admin.html", session, status=status, title="Admin", users=store.users(), projects=projects,
                  builtin=available_protocols(), error=error, notice=notice)


@router.get("")
def dashboard(request: Request, session: Auth = Depends(require_admin), store: Store = Depends(get_store)) -> Response:
    return _dashboard(session, store, notice=request.query_params.get("notice"))


@router.post("/users")
def create_user(form: FormData = Depends(csrf_form), session: Auth = Depends(require_admin),
                store: Store = Depends(get_store)) -> Response:
    name, role, password = form_text(form, "name"), form_text(form, "role"), str(form.get("password") or "")
    problem = auth.check_new_credentials(name, password)
    if role not in ("admin", "annotator"):
        problem = "role must be admin or annotator"
    if problem is None and store.user_with_hash(name) is not None:
        problem = f"user {name!r} already exists"
    if problem:
        return _dashboard(session, store, error=f"User not created: {problem}.", status=400)
    try:
        store.create_user(name, role, auth.hash_password(password), actor=session.user.name)
    except sqlite3.IntegrityError:
        return _dashboard(session, store, error=f"User not created: {name!r} already exists.", status=400)
    return RedirectResponse("/admin?" + urlencode({"notice": f"User {name} created."}), status_code=303)


def _user_or_404(store: Store, name: str) -> User:
    found = store.user_with_hash(name) if auth.NAME_RE.match(name) else None
    if found is None:
        raise HTTPException(404, f"No user named {name!r}.")
    return found[0]


def _back(notice: str) -> RedirectResponse:
    return RedirectResponse("/admin?" + urlencode({"notice": notice}), status_code=303)


@router.post("/users/{name}/disable")
def disable_user(name: str, form: FormData = Depends(csrf_form), session: Auth = Depends(require_admin),
                 store: Store = Depends(get_store)) -> Response:
    """Disable a user: their sessions end and they cannot log in; their annotations stay."""
    user = _user_or_404(store, name)
    if user.id == session.user.id:
        return _dashboard(session, store, status=400, error="You cannot disable yourself (ask another admin).")
    store.set_disabled(user, True, actor=session.user.name)
    return _back(f"User {user.name} disabled.")


@router.post("/users/{name}/enable")
def enable_user(name: str, form: FormData = Depends(csrf_form), session: Auth = Depends(require_admin),
                store: Store = Depends(get_store)) -> Response:
    user = _user_or_404(store, name)
    store.set_disabled(user, False, actor=session.user.name)
    return _back(f"User {user.name} enabled.")


@router.post("/users/{name}/password")
def reset_password(name: str, form: FormData = Depends(csrf_form), session: Auth = Depends(require_admin),
                   store: Store = Depends(get_store)) -> Response:
    """Set a new password (same policy as new users); the user's sessions and login throttles end."""
    user = _user_or_404(store, name)
    password = str(form.get("password") or "")
    problem = auth.password_problem(password, name=user.name)
    if problem:
        return _dashboard(session, store, status=400, error=f"Password of {user.name} not changed: {problem}.")
    store.set_password(user, auth.hash_password(password), actor=session.user.name)
    throttle.forget_name(store, user.name)
    return _back(f"Password of {user.name} changed; their sessions were ended.")


def _protocol_from_form(form: FormData) -> dict:
    """A protocol by name (shipped or in BABELVL_PROTOCOL_PATH), or a custom one pasted as YAML
    (it wins when given); what the project stores is the protocol's whole definition."""
    custom = form_text(form, "protocol_text")
    if custom:
        try:
            raw = yaml.safe_load(custom)
        except yaml.YAMLError as exc:
            raise ProtocolError(f"protocol text is not valid YAML/JSON ({exc})") from None
        if not isinstance(raw, dict):
            raise ProtocolError("protocol text must be a YAML mapping (see babelvl/quality/protocols/esa.yaml)")
        return resolve_protocol(raw).to_dict()
    name = form_text(form, "protocol")
    if name not in available_protocols():
        raise ProtocolError(f"unknown protocol {name!r}")
    return resolve_protocol(name).to_dict()


@router.post("/projects")
def create_project(form: FormData = Depends(csrf_form), session: Auth = Depends(require_admin),
                   store: Store = Depends(get_store)) -> Response:
    name = form_text(form, "name")
    try:
        if not auth.NAME_RE.match(name):
            raise ProtocolError("project names use letters, digits, '.', '_' and '-'")
        protocol = _protocol_from_form(form)
        store.create_project(name, protocol, actor=session.user.name)
    except ProtocolError as exc:
        return _dashboard(session, store, error=f"Project not created: {exc}", status=400)
    except sqlite3.IntegrityError:
        return _dashboard(session, store, error=f"Project not created: {name!r} already exists.", status=400)
    return RedirectResponse(f"/admin/projects/{name}", status_code=303)


def _project(store: Store, name: str) -> Project:
    project = store.project(name)
    if project is None:
        raise HTTPException(404, f"No project named {name!r}.")
    return project


def _project_page(session: Auth, store: Store, project: Project, *, problems: list[str] | None = None,
                  notice: str | None = None, status: int = 200) -> Response:
    counts = next((dict(r) for r in store.projects() if r["id"] == project.id), {})
    problems = problems or []
    shown = problems[:MAX_PROBLEMS]
    if len(problems) > len(shown):
        shown.append(f"... and {len(problems) - len(shown)} more problems")
    return render("project.html", session, status=status, title=f"Project {project.name}", project=project,
                  protocol_json=json.dumps(project.protocol, indent=2, ensure_ascii=False), counts=counts,
                  progress=store.progress(project.id), problems=shown, notice=notice,
                  error="Nothing was imported: fix these problems and upload again." if problems else None)


@router.get("/projects/{name}")
def project_page(request: Request, name: str, session: Auth = Depends(require_admin),
                 store: Store = Depends(get_store)) -> Response:
    return _project_page(session, store, _project(store, name), notice=request.query_params.get("notice"))


def _upload(form: FormData, key: str) -> tuple[str, bytes] | None:
    value = form.get(key)
    if isinstance(value, UploadFile) and value.filename:
        return value.filename, value.file.read()
    return None


@router.post("/projects/{name}/import")
def import_items(name: str, form: FormData = Depends(csrf_form), session: Auth = Depends(require_admin),
                 store: Store = Depends(get_store)) -> Response:
    """Items JSONL + assignments JSONL, or a plan file, plus optional image files matched by name.
    All or nothing: any problem refuses the whole upload with a 400 listing every problem."""
    project = _project(store, name)
    batch = ImportBatch()
    for key in ("items", "assignments", "plan"):
        upload = _upload(form, key)
        if upload:
            parse_upload(batch, upload[1], upload[0], key)
    images: dict[str, bytes] = {}
    for value in form.getlist("images"):
        if isinstance(value, UploadFile) and value.filename:
            images[PurePosixPath(value.filename.replace("\\", "/")).name] = value.file.read()
    users = store.users_by_name(a.annotator for a in batch.assignments)
    check_batch(batch, store.item_ids(project.id), store.assignment_pairs(project.id), set(users))
    new_items = attach_images(batch, images)
    if batch.problems:
        return _project_page(session, store, project, problems=batch.problems, status=400)
    try:
        store.import_batch(project, new_items, [(a.item_id, users[a.annotator].id) for a in batch.assignments],
                           actor=session.user.name)
    except sqlite3.IntegrityError as exc:
        return _project_page(session, store, project, status=400,
                             problems=[f"conflicts with a concurrent import ({exc}); nothing was written"])
    missing = sum(1 for it in new_items if it.image_path and it.image is None)
    notice = f"Imported {len(new_items)} items and {len(batch.assignments)} assignments."
    if missing:
        notice += f" {missing} items have no uploaded image (served from the image folder if configured)."
    return RedirectResponse(f"/admin/projects/{project.name}?" + urlencode({"notice": notice}), status_code=303)


@router.get("/projects/{name}/export")
def export(name: str, session: Auth = Depends(require_admin), store: Store = Depends(get_store)) -> Response:
    """All annotations of the project as JSONL of ``Annotation`` records."""
    project = _project(store, name)
    rows = store.export_rows(project.id)
    body = "".join(json.dumps(to_annotation(r).to_json(), ensure_ascii=False) + "\n" for r in rows)
    with store.transaction():
        store.audit(session.user.name, "export", project=project.name, annotations=len(rows))
    return Response(body, media_type="application/x-ndjson",
                    headers={"Content-Disposition": f'attachment; filename="{project.name}-annotations.jsonl"'})


@router.get("/projects/{name}/protocol.yaml")
def protocol_file(name: str, session: Auth = Depends(require_admin), store: Store = Depends(get_store)) -> Response:
    """The project's protocol as the YAML file ``annotate agreement/report --protocol`` reads, so the
    analysis uses exactly the definition the annotators saw."""
    protocol = project_protocol(_project(store, name).protocol)
    body = yaml.safe_dump(protocol.to_dict(), allow_unicode=True, sort_keys=False)
    return Response(body, media_type="application/yaml",
                    headers={"Content-Disposition": f'attachment; filename="{protocol.name}.yaml"'})


@router.get("/projects/{name}/comments")
def comments(name: str, session: Auth = Depends(require_admin), store: Store = Depends(get_store)) -> Response:
    """Every annotator comment of the project, by item."""
    project = _project(store, name)
    return render("comments.html", session, title=f"Comments · {project.name}", project=project,
                  comments=store.comments(project.id))


@router.get("/audit")
def audit_log(session: Auth = Depends(require_admin), store: Store = Depends(get_store)) -> Response:
    return render("audit.html", session, title="Audit log", entries=store.audit_tail())
