"""The annotator's side: their queue, one item's page, submitting, the item image, their own annotation.

Blinding is enforced in every query: an item is looked up only through the user's own assignment
and an annotation only through its owner, so an unassigned item, another annotator's annotation
and a missing one all get the same 404.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from . import auth
from .db import Project, Store, to_annotation
from .imports import sniff_image
from .protocol_forms import (FieldError, Protocol, anchors_of, is_slider, project_protocol, shown_target,
                             validate_submission)
from .web import Auth, config, csrf_form, form_text, get_store, item_url, render, require_user

router = APIRouter()
NOT_IN_QUEUE = "No such item in your queue."
MAX_VIEW_SECONDS = 2 * 3600.0
"""A first view older than this (a tab left open overnight) is not counted: the latest view is."""


@router.get("/queue")
def queue(request: Request, session: Auth = Depends(require_user), store: Store = Depends(get_store)) -> Response:
    rows = store.queue(session.user.id)
    projects: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        data = json.loads(row["data"])
        projects.setdefault(row["project"], []).append(
            {"item_id": row["item_id"], "language": data.get("language", ""), "field": data.get("field", ""),
             "done": row["annotation_id"] is not None, "updated": row["updated"]})
    return render("queue.html", session, title="My queue", projects=projects,
                  notice="All your items are annotated." if request.query_params.get("done") else None)


def _project_or_404(store: Store, name: str) -> Project:
    project = store.project(name)
    if project is None:
        raise HTTPException(404, NOT_IN_QUEUE)
    return project


def _neighbours(store: Store, session: Auth, project: Project, item_id: str) -> dict[str, Any]:
    """Position in the user's queue, previous/next links and where to go after a submission."""
    rows = store.queue(session.user.id, project.id)
    ids = [r["item_id"] for r in rows]
    index = ids.index(item_id)
    todo = [i for i, r in enumerate(rows) if r["annotation_id"] is None and r["item_id"] != item_id]
    after = next((i for i in todo if i > index), todo[0] if todo else None)
    return {"index": index, "total": len(ids),
            "prev_url": item_url(project.name, ids[index - 1]) if index > 0 else None,
            "next_url": item_url(project.name, ids[index + 1]) if index + 1 < len(ids) else None,
            "after_submit": item_url(project.name, ids[after]) + "?saved=1" if after is not None
            else "/queue?done=1"}


def _item_page(request: Request, session: Auth, store: Store, project: Project, item_row: Any, *,
               protocol: Protocol, values: dict[str, Any] | None = None, error: str | None = None,
               status: int = 200) -> Response:
    item = json.loads(item_row["data"])
    own = store.own_annotation(project.id, item["item_id"], session.user.id)
    if values is None:
        values = json.loads(own["values_json"]) if own else {}
    has_image = item_row["image"] is not None or _image_file(request, item_row) is not None
    served = auth.sign_served(config(request).secret, session.user.id, project.name, item["item_id"])
    spans_key = protocol.spans.key if protocol.spans else None
    spans = values.get(spans_key, []) if spans_key else []
    page_data = {"kind": protocol.kind, "target_text": item["target_text"],
                 "shown_text": shown_target(protocol, item["target_text"]),
                 "severities": list(protocol.severities), "spans": spans,
                 "sliders": [s.name for s in protocol.scales if is_slider(s)],
                 "touched": [s.name for s in protocol.scales if s.name in values]}
    nav = _neighbours(store, session, project, item["item_id"])
    return render("item.html", session, status=status, title=f"{project.name} · {item['item_id']}",
                  project=project, item=item, protocol=protocol, values=values, annotation=own, served=served,
                  has_image=has_image, page_data=page_data, spans_json=json.dumps(spans), error=error,
                  is_slider=is_slider, anchors_of=anchors_of, shown_text=page_data["shown_text"],
                  notice="Saved." if request.query_params.get("saved") and not error else None, **nav)


def _assigned_or_404(store: Store, project_name: str, item_id: str, session: Auth) -> tuple[Project, Any]:
    """The project and the item, only if the item is in this user's queue: the one place blinding is enforced.

    Unassigned, unknown and other annotators' items all give the same 404, so nothing leaks their existence.
    """
    project = _project_or_404(store, project_name)
    row = store.assigned_item(project.id, item_id, session.user.id)
    if row is None:
        raise HTTPException(404, NOT_IN_QUEUE)
    return project, row


@router.get("/projects/{project_name}/items/{item_id:path}")
def item_page(request: Request, project_name: str, item_id: str, session: Auth = Depends(require_user),
              store: Store = Depends(get_store)) -> Response:
    project, row = _assigned_or_404(store, project_name, item_id, session)
    store.page_served(session.user.id, project.id, item_id, time.time())
    return _item_page(request, session, store, project, row, protocol=project_protocol(project.protocol))


def _seconds(request: Request, session: Auth, project: Project, item_id: str, form: FormData,
             store: Store) -> tuple[float | None, str]:
    """(seconds spent, page-view nonce), both from the server: the time since the server first served
    this item's page to this user (since their last submission), and the nonce of the signed form.

    Nothing the browser sends sets the time: a stamp that is not this server's for this user and
    item gets a fresh nonce, and a submission without a recorded page view (a resent form) adds no
    time."""
    stamp = auth.check_served(config(request).secret, session.user.id, project.name, item_id,
                              form_text(form, "served"))
    nonce = stamp[1] if stamp is not None else "unstamped-" + auth.new_token()
    view = store.take_page_view(session.user.id, project.id, item_id)
    if view is None:
        return None, nonce
    now = time.time()
    first, last = view
    seconds = now - first if now - first <= MAX_VIEW_SECONDS else now - last
    return round(max(0.0, seconds), 2), nonce


@router.post("/projects/{project_name}/items/{item_id:path}")
def submit(request: Request, project_name: str, item_id: str, form: FormData = Depends(csrf_form),
           session: Auth = Depends(require_user), store: Store = Depends(get_store)) -> Response:
    project, row = _assigned_or_404(store, project_name, item_id, session)
    protocol = project_protocol(project.protocol)
    target = json.loads(row["data"])["target_text"]
    try:
        values = validate_submission(protocol, form, target)
    except FieldError as exc:
        return _item_page(request, session, store, project, row, protocol=protocol, status=400,
                          error="Not saved: " + "; ".join(f"field '{field}': {reason}"
                                                          for field, reason in exc.problems))
    seconds, nonce = _seconds(request, session, project, item_id, form, store)
    store.save_annotation(project, item_id, session.user, protocol.name, values, seconds, nonce)
    nav = _neighbours(store, session, project, item_id)
    return RedirectResponse(nav["after_submit"], status_code=303)


def _image_file(request: Request, item_row: Any) -> Path | None:
    """The image on disk under the configured image root, never outside it."""
    root, rel = config(request).image_root, item_row["image_path"]
    if root is None or not rel:
        return None
    candidate = (root / rel).resolve()
    if not candidate.is_relative_to(root.resolve()) or not candidate.is_file():
        return None
    return candidate


@router.get("/projects/{project_name}/images/{item_id:path}")
def image(request: Request, project_name: str, item_id: str, session: Auth = Depends(require_user),
          store: Store = Depends(get_store)) -> Response:
    project, row = _assigned_or_404(store, project_name, item_id, session)
    headers = {"Cache-Control": "private, max-age=3600"}
    if row["image"] is not None:
        return Response(row["image"], media_type=row["image_type"], headers=headers)
    path = _image_file(request, row)
    if path is not None:
        with open(path, "rb") as fh:
            kind = sniff_image(fh.read(16))
        if kind:
            return FileResponse(path, media_type=kind, headers=headers)
    raise HTTPException(404, "This item has no image.")


@router.get("/annotations/{annotation_id}")
def annotation_json(annotation_id: int, session: Auth = Depends(require_user),
                    store: Store = Depends(get_store)) -> JSONResponse:
    """One annotation as its export record: admins see any, annotators only their own."""
    row = store.annotation_by_id(annotation_id)
    if row is None or not (session.user.is_admin or row["annotator_id"] == session.user.id):
        raise HTTPException(404, "No such annotation.")
    return JSONResponse({"id": row["id"], "project": row["project"], "revisions": row["revisions"],
                         **to_annotation(row).to_json()})

