"""Log in and out. A login opens a fresh session (no fixation); failed logins are audited (with a cap
on what strangers can store) and slowed by growing delays per client address and per user name
(:mod:`.throttle`), never by a lockout a stranger could trigger."""

from __future__ import annotations

import math
import os
import threading

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from . import auth, throttle
from .db import Store
from .web import (LOGIN_CSRF_COOKIE, SESSION_COOKIE, Auth, config, csrf_form, form_text, get_auth, get_store,
                  login_form, render, require_user, safe_next, secure_cookie)

router = APIRouter()
DEVICE_COOKIE = "babelvl_device"
MAX_FAILED_LOGIN_ENTRIES = 10_000
"""Failed logins kept in the audit log (the oldest go first): strangers cannot grow it without bound."""
PASSWORD_CHECKS = threading.BoundedSemaphore(max(1, (os.cpu_count() or 2) // 2))
"""scrypt checks at once: half the cores, so a login flood from many addresses cannot take all the CPU
from annotators (each check is ~16 MB and tens of ms of CPU)."""
WRONG = "Wrong user name or password."


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
    raw_name, password = form_text(form, "name"), str(form.get("password") or "")
    next_url = form_text(form, "next")[:2000] or "/"
    # Only a well-formed name is ever stored or used as a key; anything else is "-" in the audit log.
    name = raw_name if auth.NAME_RE.match(raw_name) else None
    found = store.user_with_hash(name) if name else None
    device = request.cookies.get(DEVICE_COOKIE)
    trusted = device if found is not None and auth.check_device(config(request).secret, found[0].id, device) else False
    address = throttle.client_address(request.client.host if request.client else None)
    attempt = throttle.Attempt.of(name, address, trusted_device=trusted)
    wait = throttle.begin(store, attempt)
    if wait > 0:
        seconds = math.ceil(wait)
        response = _login_page(request, next_url=next_url, status=429,
                               error=f"Too many failed logins: try again in {seconds} seconds.")
        response.headers["Retry-After"] = str(seconds)
        return response
    if len(password) > auth.MAX_PASSWORD:
        ok = False
    else:
        if not PASSWORD_CHECKS.acquire(timeout=10):
            raise HTTPException(503, "The server is busy checking other logins: try again in a moment.",
                                headers={"Retry-After": "5"})
        try:
            ok = auth.verify_password(password, found[1] if found else None) and found is not None
        finally:
            PASSWORD_CHECKS.release()
    if not ok or found is None:
        with store.transaction():
            store.audit(name or "-", "login_failed", address=address[:64])
            store.prune_failed_logins(MAX_FAILED_LOGIN_ENTRIES)
        return _login_page(request, next_url=next_url, error=WRONG, status=401)
    user = found[0]
    throttle.succeeded(store, attempt)
    if user.disabled:
        return _login_page(request, next_url=next_url, status=403,
                           error="This account is disabled: ask the project's admin.")
    token = auth.new_token()
    store.create_session(auth.token_digest(config(request).secret, token), user, auth.new_token(),
                         auth.session_expiry())
    response = RedirectResponse(safe_next(next_url), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=auth.SESSION_SECONDS, httponly=True, samesite="lax",
                        secure=secure_cookie(request), path="/")
    response.set_cookie(DEVICE_COOKIE, auth.sign_device(config(request).secret, user.id),
                        max_age=auth.DEVICE_DAYS * 86400, httponly=True, samesite="lax",
                        secure=secure_cookie(request), path="/login")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(_form: FormData = Depends(csrf_form), session: Auth = Depends(require_user),
           store: Store = Depends(get_store)) -> Response:
    store.delete_session(session.token_hash, session.user.name)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
