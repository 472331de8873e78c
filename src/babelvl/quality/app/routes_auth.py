"""Log in and out. A login opens a fresh session (no fixation); failed logins are audited and,
past a limit, refused for a while to slow password guessing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from . import auth
from .db import Store
from .web import (LOGIN_CSRF_COOKIE, SESSION_COOKIE, Auth, config, csrf_form, form_text, get_auth, get_store,
                  login_form, render, require_user, safe_next, secure_cookie)

router = APIRouter()
MAX_FAILED_LOGINS = 10
FAILED_LOGIN_WINDOW = timedelta(minutes=15)


@router.get("/")
def index(session: Auth | None = Depends(get_auth)) -> RedirectResponse:
    if session is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/admin" if session.user.is_admin else "/queue", status_code=303)


def _login_page(request: Request, *, next_url: str, error: str | None = None, status: int = 200) -> Response:
    token = auth.new_token()
    response = render("login.html", None, status=status, title="Log in", login_csrf=token,
                      next_url=safe_next(next_url), error=error)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, httponly=True, samesite="lax",
                        secure=secure_cookie(request), path="/login")
    return response


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    return _login_page(request, next_url=next)


@router.post("/login")
def login(request: Request, form: FormData = Depends(login_form), store: Store = Depends(get_store)) -> Response:
    name, password = form_text(form, "name"), str(form.get("password") or "")
    next_url = form_text(form, "next") or "/"
    since = (datetime.now(timezone.utc) - FAILED_LOGIN_WINDOW).isoformat(timespec="seconds")
    if name and store.failed_logins_since(name, since) >= MAX_FAILED_LOGINS:
        raise HTTPException(429, "Too many failed logins for this user: wait 15 minutes and try again.")
    found = store.user_with_hash(name) if name else None
    if not auth.verify_password(password, found[1] if found else None) or found is None:
        with store.transaction():
            store.audit(name or "-", "login_failed")
        return _login_page(request, next_url=next_url, error="Wrong user name or password.", status=401)
    token = auth.new_token()
    store.create_session(auth.token_digest(config(request).secret, token), found[0], auth.new_token(),
                         auth.session_expiry())
    response = RedirectResponse(safe_next(next_url), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=auth.SESSION_SECONDS, httponly=True, samesite="lax",
                        secure=secure_cookie(request), path="/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(_form: FormData = Depends(csrf_form), session: Auth = Depends(require_user),
           store: Store = Depends(get_store)) -> Response:
    store.delete_session(session.token_hash, session.user.name)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
