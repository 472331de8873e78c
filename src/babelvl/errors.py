"""Errors that point at the bad input: file, row and field."""

from __future__ import annotations


class BabelvlError(Exception):
    """Base class for every error babelvl raises on purpose."""


class InputError(BabelvlError):
    """Bad user input. The message always names where: file, row (0-based) and field when known."""

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 field: str | None = None) -> None:
        self.file, self.row, self.field, self.reason = file, row, field, message
        where = [f"file {file}" if file else None,
                 f"row {row}" if row is not None else None,
                 f"field '{field}'" if field else None]
        prefix = ", ".join(w for w in where if w)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class UnknownLanguageError(BabelvlError):
    """A language code with no language pack."""


def issue_tracker() -> str:
    """Where unexpected errors (bugs) are reported, printed by the CLI under a traceback.

    The ``Issues`` URL of pyproject's ``[project.urls]`` (installed metadata), else the project's default.
    """
    try:
        from importlib.metadata import metadata

        for entry in metadata("babelvl").get_all("Project-URL") or []:
            label, _, url = entry.partition(",")
            if label.strip().lower() in ("issues", "bug tracker", "tracker"):
                return url.strip()
    except Exception:  # not installed (a source checkout on PYTHONPATH): fall back
        pass
    return "https://github.com/babelvl/babelvl/issues"


#: exit codes of the ``babelvl`` command: bad input (argparse uses 2 too), Ctrl-C (128 + SIGINT), a bug
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_BUG = 1
