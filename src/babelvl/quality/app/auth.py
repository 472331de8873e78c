"""Passwords, session tokens, CSRF tokens and signed "page served at" stamps.

Only the standard library: scrypt for passwords (a salt per user), HMAC for what the server
signs, and ``secrets`` for tokens. Session tokens are stored as HMAC digests, so a copy of the
database does not hand out live sessions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SESSION_SECONDS = 12 * 3600
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
"""User and project names: safe in URLs, file names and logs."""
MIN_PASSWORD = 8


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


_DUMMY_HASH = hash_password(secrets.token_hex(8))
"""Checked against when the user does not exist, so response time does not reveal user names."""


def verify_password(password: str, stored: str | None) -> bool:
    try:
        scheme, n, r, p, salt, digest = (stored or _DUMMY_HASH).split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=_unb64(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(_unb64(digest)))
    except (ValueError, TypeError):
        return False
    return stored is not None and hmac.compare_digest(got, _unb64(digest))


def check_new_credentials(name: str, password: str) -> str | None:
    """A reason the name or password is not acceptable, or None."""
    if not NAME_RE.match(name):
        return "names use letters, digits, '.', '_' and '-' (at most 64, starting with a letter or digit)"
    if len(password) < MIN_PASSWORD:
        return f"passwords need at least {MIN_PASSWORD} characters"
    return None


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(secret: str, token: str) -> str:
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def tokens_match(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


def session_expiry() -> float:
    return time.time() + SESSION_SECONDS


# --- "page served at" stamps: the server-side clock of the time spent on an item --------------

def sign_served(secret: str, user_id: int, project: str, item_id: str, now: float | None = None) -> str:
    """A stamp ``time.nonce.mac`` put in the item form; the nonce identifies one page view."""
    stamp = f"{now if now is not None else time.time():.3f}.{secrets.token_hex(8)}"
    return f"{stamp}.{_served_mac(secret, user_id, project, item_id, stamp)}"


def check_served(secret: str, user_id: int, project: str, item_id: str, value: str) -> tuple[float, str] | None:
    """(served time, nonce) of a stamp this server made for this user and item, else None."""
    try:
        seconds, fraction, nonce, mac = value.split(".")
        stamp = f"{seconds}.{fraction}.{nonce}"
        if not hmac.compare_digest(mac, _served_mac(secret, user_id, project, item_id, stamp)):
            return None
        return float(f"{seconds}.{fraction}"), nonce
    except (ValueError, AttributeError):
        return None


def _served_mac(secret: str, user_id: int, project: str, item_id: str, stamp: str) -> str:
    message = "\x1f".join([str(user_id), project, item_id, stamp]).encode("utf-8")
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]
