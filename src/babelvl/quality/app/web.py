"""What every route shares: config, per-request store, the logged-in user, CSRF checks, rendering."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Iterator
from urllib.parse import quote

import jinja2
from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from . import auth
from .db import Store, User, connect

SESSION_COOKIE = "babelvl_session"
LOGIN_CSRF_COOKIE = "babelvl_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_MESSAGE = ("Missing or invalid CSRF token: this form was not sent by a page of this app. "
                "Reload the page and submit again.")
TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class AppConfig:
    db_path: Path
    secret: str
    max_upload_bytes: int
    image_root: Path | None = None
    """Folder where items' ``image_path`` resolve when the image was not stored in the database."""
    secure_cookies: bool | None = None
    """Mark cookies Secure; None: only when the request came over https."""


@dataclass(frozen=True)
class Auth:
    """The logged-in session of a request."""

    user: User
    csrf: str
    token_hash: str


class NotLoggedIn(Exception):
    """Raised by :func:`require_user`; the app redirects GETs to the login page and refuses POSTs."""


def config(request: Request) -> AppConfig:
    return request.app.state.config  # type: ignore[no-any-return]


def get_store(request: Request) -> Iterator[Store]:
    """One connection per request, closed when the request is done."""
    conn = connect(config(request).db_path)
    try:
        yield Store(conn)
    finally:
        conn.close()


def get_auth(request: Request, store: Store = Depends(get_store)) -> Auth | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    digest = auth.token_digest(config(request).secret, token)
    found = store.session(digest)
    return Auth(found[0], found[1], digest) if found else None


def require_user(session: Auth | None = Depends(get_auth)) -> Auth:
    if session is None:
        raise NotLoggedIn
    return session


def require_admin(session: Auth = Depends(require_user)) -> Auth:
    if not session.user.is_admin:
        raise HTTPException(403, "This page is for admins only.")
    return session


async def _checked_form(request: Request, expected: str | None) -> FormData:
    """The parsed form if its CSRF token matches; 403 otherwise (its uploads closed first)."""
    form = await request.form()
    if not auth.tokens_match(expected, _text(form.get(CSRF_FIELD))):
        await form.close()
        raise HTTPException(403, CSRF_MESSAGE)
    return form


async def csrf_form(request: Request, session: Auth = Depends(require_user)) -> AsyncIterator[FormData]:
    """The submitted form, once its CSRF token matched the session's; uploads closed after the request."""
    form = await _checked_form(request, session.csrf)
    try:
        yield form
    finally:
        await form.close()


MAX_LOGIN_BODY = 16_384
"""Bytes a login form may have (it comes from anyone): a name, a password, a token and a path."""


async def login_form(request: Request) -> AsyncIterator[FormData]:
    """The login form, checked against the double-submit cookie set with the login page."""
    declared = request.headers.get("content-length", "")
    if not declared.isdigit() or int(declared) > MAX_LOGIN_BODY:
        raise HTTPException(413, f"A login form has at most {MAX_LOGIN_BODY} bytes.")
    form = await _checked_form(request, request.cookies.get(LOGIN_CSRF_COOKIE))
    try:
        yield form
    finally:
        await form.close()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def secure_cookie(request: Request) -> bool:
    chosen = config(request).secure_cookies
    return request.url.scheme == "https" if chosen is None else chosen


def safe_next(target: str | None) -> str:
    """Only same-site paths, so the login page cannot be used as an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def item_url(project: str, item_id: str) -> str:
    return f"/projects/{quote(project, safe='')}/items/{quote(item_id, safe='')}"


def image_url(project: str, item_id: str) -> str:
    return f"/projects/{quote(project, safe='')}/images/{quote(item_id, safe='')}"


_env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                          undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_env.globals.update(item_url=item_url, image_url=image_url, quote=lambda s: quote(s, safe=""))


def render(template: str, session: Auth | None, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A server-rendered page; every page gets the user and the CSRF token for its forms."""
    base = {"user": session.user if session else None, "csrf": session.csrf if session else "",
            "error": None, "notice": None, "title": ""}
    return HTMLResponse(_env.get_template(template).render({**base, **context}), status_code=status)
