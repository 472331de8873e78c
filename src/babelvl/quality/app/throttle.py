"""Login throttling with growing delays, keyed so that a stranger cannot lock anyone out.

Three counters slow password guessing; each allows a few free failures, then doubles a wait
(1 s, 2 s, 4 s ... at most 15 minutes), and is forgotten an hour after its last failure:

* ``pair:NAME|ADDR``: one client guessing one name (5 free failures);
* ``addr:ADDR``: one client spraying across names (20 free);
* ``name:NAME``: many clients guessing one name (50 free).

A browser that holds the user's device cookie (left by an earlier successful login there, see
:func:`babelvl.quality.app.auth.sign_device`) is counted on its own instead (``dev:COOKIE``, 10
free), so neither a stranger guessing the name nor one sharing the user's address (a NAT, an
office) slows the user's own browser down.

So a stranger failing on "alice" from one address only slows that address (the pair and address
counters); reaching the name counter from one address takes hours of doubling waits, and even then
alice's own browser is let through. A throttled attempt is answered 429 with ``Retry-After``
before the password is checked, so a flood costs no scrypt time. Every attempt is counted as a
failure before the password is checked, in one ``BEGIN IMMEDIATE`` transaction, so parallel
requests cannot slip past the counters; a success then takes its count back.

The client address is ``request.client.host``: the TCP peer, or, behind a reverse proxy, the
``X-Forwarded-For`` address that uvicorn accepts only from ``--forwarded-allow-ips`` (by default
127.0.0.1). IPv6 clients are counted per /64, the block one subscriber usually holds.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

from .db import Store

FREE_FAILURES = {"pair": 5, "addr": 20, "name": 50, "dev": 10}
FIRST_DELAY = 1.0
MAX_DELAY = 15 * 60.0
FORGET_AFTER = 3600.0
MAX_ROWS = 50_000
"""Bound on the throttle table: the oldest entries go first when strangers fill it."""


def client_address(host: str | None) -> str:
    """The counting key of a client: its IPv4 address, its IPv6 /64, or a capped label."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def delay_after(kind: str, failures: int) -> float:
    """Seconds to wait after ``failures`` consecutive failures on a counter of this kind: none before the
    free ones are used up, then FIRST_DELAY, doubling up to MAX_DELAY."""
    over = failures - FREE_FAILURES[kind]
    return 0.0 if over < 0 else min(MAX_DELAY, FIRST_DELAY * 2 ** min(over, 40))


@dataclass(frozen=True)
class Attempt:
    """The counters one login attempt touches."""

    keys: tuple[str, ...]

    @classmethod
    def of(cls, name: str | None, address: str, *, trusted_device: bool | str) -> "Attempt":
        """``name`` None for names that could not exist (invalid): only the address counts then.
        ``trusted_device``: the valid device cookie of that user (or True), counted on its own."""
        if name and trusted_device:
            return cls((f"dev:{name}|{str(trusted_device)[-32:]}",))
        keys = [f"addr:{address}"]
        if name:
            keys += [f"pair:{name}|{address}", f"name:{name}"]
        return cls(tuple(keys))


def begin(store: Store, attempt: Attempt, now: float | None = None) -> float:
    """0 when the attempt may go ahead (it is then counted as a failure); else seconds to wait."""
    now = time.time() if now is None else now
    with store.transaction():
        rows = store.throttle_rows(attempt.keys)
        fresh = {key: row for key, row in rows.items() if row["last"] >= now - FORGET_AFTER}
        wait = max((row["next_allowed"] - now for row in fresh.values()), default=0.0)
        if wait > 0:
            return wait
        for key in attempt.keys:
            failures = (fresh[key]["failures"] if key in fresh else 0) + 1
            store.throttle_put(key, failures, now, now + delay_after(_kind(key), failures))
        store.throttle_prune(now - FORGET_AFTER, MAX_ROWS)
    return 0.0


def succeeded(store: Store, attempt: Attempt, now: float | None = None) -> None:
    """A correct password: the client's counters are cleared; the name's takes back this attempt."""
    now = time.time() if now is None else now
    with store.transaction():
        store.throttle_delete(k for k in attempt.keys if not k.startswith("name:"))  # client's counters
        for key, row in store.throttle_rows(k for k in attempt.keys if k.startswith("name:")).items():
            failures = max(0, row["failures"] - 1)
            store.throttle_put(key, failures, row["last"], min(row["next_allowed"], now + delay_after("name", failures)))


def forget_name(store: Store, name: str) -> None:
    """Clear every counter of a user name (after an admin reset its password)."""
    with store.transaction() as conn:
        escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conn.execute("DELETE FROM login_throttle WHERE key = ? OR key LIKE ? ESCAPE '\\' OR key LIKE ? ESCAPE '\\'",
                     (f"name:{name}", f"pair:{escaped}|%", f"dev:{escaped}|%"))


def _kind(key: str) -> str:
    return key.split(":", 1)[0]


__all__ = ["Attempt", "FREE_FAILURES", "MAX_DELAY", "begin", "client_address", "delay_after", "forget_name",
           "succeeded"]
