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
MIN_PASSWORD = 10
MAX_PASSWORD = 256
"""Longer passwords are refused before hashing: scrypt's cost grows with the input."""
MIN_STRENGTH = 3
"""zxcvbn score (0-4) a new password needs: 3 means about 10^8 guesses or more."""
DEVICE_DAYS = 90
"""Lifetime of the device cookie a successful login leaves (see :func:`sign_device`)."""


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
    return password_problem(password, name=name)


def password_problem(password: str, *, name: str = "") -> str | None:
    """Why a new password is refused (length, or found guessable by zxcvbn), or None.

    zxcvbn (Dropbox's estimator, MIT; the Python port on PyPI) ships frequency lists of common
    passwords from leaks, English words, names and keyboard patterns, and scores how many guesses
    a password would take. The user's name and the app's name count as known to an attacker.
    """
    if len(password) < MIN_PASSWORD:
        return f"passwords need at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"passwords have at most {MAX_PASSWORD} characters"
    from zxcvbn import zxcvbn

    result = zxcvbn(password, user_inputs=[name, "babelvl", "annotate", "annotation"])
    if result["score"] < MIN_STRENGTH:
        feedback = result.get("feedback") or {}
        hint = " ".join(part for part in [feedback.get("warning") or "", *(feedback.get("suggestions") or [])]
                        if part)
        return "this password is too easy to guess" + (f" ({hint.strip()})" if hint.strip() else "") + \
            "; a few unrelated words make a strong one"
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


# --- device cookies: a browser that logged in as a user before ---------------------------------

def sign_device(secret: str, user_id: int, now: float | None = None) -> str:
    """``issued.mac`` for this user: lets that browser past the per-user-name login throttle.

    Per-name throttling slows a distributed guess at one account, but it would also lock the
    account's owner out if anyone could trigger it; a browser holding this cookie has logged in
    as the user before, so the name's throttle does not apply to it (OWASP's "device cookie").
    """
    # whole seconds rounded DOWN: rounding to nearest could date the cookie up to 0.5 s in the future, and
    # check_device refuses a cookie from the future
    issued = str(int(now if now is not None else time.time()))
    return f"{issued}.{_device_mac(secret, user_id, issued)}"


def check_device(secret: str, user_id: int, value: str | None, now: float | None = None) -> bool:
    if not value or len(value) > 100:
        return False
    issued, _, mac = value.partition(".")
    try:
        age = (now if now is not None else time.time()) - float(issued)
    except ValueError:
        return False
    return 0 <= age <= DEVICE_DAYS * 86400 and hmac.compare_digest(mac, _device_mac(secret, user_id, issued))


def _device_mac(secret: str, user_id: int, issued: str) -> str:
    return hmac.new(secret.encode(), f"device\x1f{user_id}\x1f{issued}".encode(), hashlib.sha256).hexdigest()[:32]
