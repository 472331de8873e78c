"""Where babelvl talks to the person running it: one console, one verbosity setting.

Every long job takes its progress bars and messages from :func:`console`, so ``--quiet`` and ``--verbose`` (set
once by the command line through :func:`set_verbosity`) act on all of them. Data files never depend on it.
"""

from __future__ import annotations

import logging

from rich.console import Console

QUIET, NORMAL, VERBOSE = -1, 0, 1
_state = {"level": NORMAL}
_consoles: dict[int, Console] = {}


def set_verbosity(level: int) -> None:
    """``QUIET`` hides progress bars and notes (errors still print), ``VERBOSE`` adds details and INFO logs."""
    _state["level"] = level
    _consoles.clear()
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s",
                        level={QUIET: logging.ERROR, NORMAL: logging.WARNING, VERBOSE: logging.INFO}[level],
                        force=True)


def verbosity() -> int:
    return _state["level"]


def console() -> Console:
    """The stderr console for progress and notes; silent under ``--quiet``."""
    level = _state["level"]
    if level not in _consoles:
        _consoles[level] = Console(stderr=True, quiet=level == QUIET)
    return _consoles[level]


def note(message: str) -> None:
    """A line for the user on stderr (hidden by ``--quiet``)."""
    console().print(message, highlight=False)


def detail(message: str) -> None:
    """A line shown only with ``--verbose``."""
    if _state["level"] >= VERBOSE:
        console().print(message, highlight=False, style="dim")
