"""The command line's vocabulary: one spelling per idea, defined here and read by every command.

- ``--out`` is always what a command writes (a folder or a file); ``--data`` is always what it reads.
- A model is a spec string everywhere: a Hub id or local folder (transformers, in process), ``hf:ID``, or
  ``openai:MODEL`` for a model served over an OpenAI-compatible API (vLLM, SGLang, TGI, llama.cpp, hosted), with
  the server options of :func:`add_server_options`. The flag names the model's role (``--model`` evaluated or
  trained, ``--engine`` translating, ``--generator`` writing), the value's spelling is the same in all of them.
- ``--subset``/``--split`` pick a dataset's config and split; ``--config FILE`` is a run-config file whose keys are
  the command's long options (flags given on the command line override it).
- ``--verbose``/``--quiet`` on every command.

Old spellings (``--output``, ``--file``, ``--source``...) are refused with a message giving the new one, so a
script written for an older babelvl fails loudly instead of doing something else.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, Sequence

import yaml

from babelvl.errors import BabelvlError


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps descriptions as written and shows every option's default (argparse's own
    ArgumentDefaultsHelpFormatter prints "(default: None)" noise and skips options without help)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (action.option_strings and "%(default)" not in text and default not in (None, False, [], "")
                and default is not argparse.SUPPRESS and action.nargs != 0):
            text += (" " if text else "") + "(default: %(default)s)"
        return text


def show_defaults(parser: argparse.ArgumentParser) -> None:
    """Give options written without help text a help line with their default, so every help shows them all."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                show_defaults(child)
        elif action.option_strings and action.help is None and action.nargs != 0 \
                and action.default not in (None, False, [], ""):
            action.help = "(default: %(default)s)"


def comma_list(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def positive_int(text: str) -> int:
    """argparse type for counts (``--limit``, ``--budget``...): a non-positive count is a mistake, not "none"."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _number(text: str, kind: type, low: float, low_ok: bool, high: float | None = None) -> Any:
    """One reading of numeric option values, so every flag rejects the same bad values the same way."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    if value < low or (value == low and not low_ok):
        raise argparse.ArgumentTypeError(f"{text} must be {'at least' if low_ok else 'greater than'} {low:g}")
    if high is not None and value > high:
        raise argparse.ArgumentTypeError(f"{text} must be at most {high:g}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type for counts where 0 means "none" (``--retries``, ``--validation-size``)."""
    return _number(text, int, 0, True)


def positive_float(text: str) -> float:
    """argparse type for durations, rates and epochs: finite and above 0."""
    return _number(text, float, 0, False)


def non_negative_float(text: str) -> float:
    """argparse type for temperatures and shares: finite and not negative."""
    return _number(text, float, 0, True)


def fraction(text: str) -> float:
    """argparse type for a share in [0, 1] (``--overlap``, ``--min-alpha``)."""
    return _number(text, float, 0, True, 1)


def port_number(text: str) -> int:
    return _number(text, int, 0, True, 65535)


def http_url(text: str) -> str:
    """argparse type for a server address: http(s)://host[:port][/path], checked before any request is retried."""
    from urllib.parse import urlparse

    parsed = urlparse(text)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http(s) URL, e.g. http://localhost:8000/v1")
    return text


def out_folder(text: str) -> Path:
    """argparse type for an ``--out`` that is a folder: it may exist (runs resume there), but not as a file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file; --out must be a folder here")
    return path


def language_shares(text: str) -> dict[str, float]:
    """argparse type for ``en=0.4,fr=0.15``: language code -> share; a typo is one clear line, not a traceback."""
    shares: dict[str, float] = {}
    for part in comma_list(text):
        code, sep, value = part.partition("=")
        code = code.strip()
        if not sep or not code:
            raise argparse.ArgumentTypeError(f"{part!r}: use LANGUAGE=SHARE, e.g. fr=0.15")
        if code in shares:
            raise argparse.ArgumentTypeError(f"language {code!r} is given twice")
        try:
            shares[code] = non_negative_float(value.strip())
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"share of {code!r}: {exc}") from None
    if not shares:
        raise argparse.ArgumentTypeError("no share given; use e.g. en=0.4,fr=0.6")
    return shares


def add_server_options(p: argparse.ArgumentParser, *, concurrency: int = 64) -> argparse._ArgumentGroup:
    """``--api-base --api-key --concurrency --timeout``: how to reach any ``openai:MODEL`` the command uses."""
    g = p.add_argument_group("served models (openai:MODEL specs)")
    g.add_argument("--api-base", type=http_url, help="OpenAI-compatible server URL, e.g. http://localhost:8000/v1")
    g.add_argument("--api-key", help="API key (default: $OPENAI_API_KEY, or none for local servers)")
    g.add_argument("--concurrency", type=positive_int, default=concurrency,
                   help="requests kept in flight to the server: a sliding window, refilled as each answer "
                        "returns (match the server's batch slots, e.g. vLLM --max-num-seqs)")
    g.add_argument("--timeout", type=positive_float, default=120.0, help="seconds per request")
    return g


def server_options(args: argparse.Namespace) -> dict[str, Any]:
    """The server options as backend keyword arguments (``None`` ones are dropped by the loaders).

    The API key is not among them: :func:`export_api_key` hands it over through ``$OPENAI_API_KEY``, where the
    backend reads it, so that no run file that records a job's options (``translate.json``, ``build_spec.json``)
    can ever hold a secret."""
    return {"base_url": args.api_base, "concurrency": args.concurrency, "timeout": args.timeout}


def export_api_key(args: argparse.Namespace) -> None:
    if getattr(args, "api_key", None):
        os.environ["OPENAI_API_KEY"] = args.api_key


def add_common_options(p: argparse.ArgumentParser) -> None:
    """``--config``, ``--verbose`` and ``--quiet``: on every command."""
    g = p.add_argument_group("run")
    g.add_argument("--config", metavar="FILE",
                   help="run-config YAML/JSON: keys are this command's long options (e.g. languages: fr,de); "
                        "options given on the command line override it")
    v = g.add_mutually_exclusive_group()
    v.add_argument("-v", "--verbose", action="store_true", help="more detail on stderr")
    v.add_argument("-q", "--quiet", action="store_true", help="no progress bars or notes (errors still print)")


# --- old spellings --------------------------------------------------------------------------------------------

class _Renamed(argparse.Action):
    """An option that no longer exists: refuse it, saying what to write instead."""

    def __init__(self, option_strings: list[str], dest: str, new: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("nargs", "?")
        super().__init__(option_strings, dest=argparse.SUPPRESS, help=argparse.SUPPRESS, **kwargs)
        self.new = new

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        parser.error(f"{option_string} was renamed: {self.new}")


def renamed(p: argparse.ArgumentParser, old: str, new: str) -> None:
    """Register ``old`` (an option that was renamed) so that using it is an error that names ``new``."""
    p.add_argument(old, action=_Renamed, new=new)


class _LegacyPositional(argparse.Action):
    def __init__(self, option_strings: list[str], dest: str, new: str = "", **kwargs: Any) -> None:
        super().__init__(option_strings, dest=dest, help=argparse.SUPPRESS, **kwargs)
        self.new = new

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        if values:
            parser.error(f"positional {' '.join(map(str, values if isinstance(values, list) else [values]))!r}: "
                         f"{self.new}")


def legacy_positional(p: argparse.ArgumentParser, name: str, new: str) -> None:
    """A positional argument that became an option: refuse it, naming the option."""
    p.add_argument(f"_legacy_{name}", nargs="*", action=_LegacyPositional, new=new, metavar="")


# --- run-config files -------------------------------------------------------------------------------------------

def _option_index(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    index: dict[str, argparse.Action] = {}
    for action in parser._actions:
        for opt in action.option_strings:
            if opt.startswith("--"):
                index[opt[2:]] = action
    return index


def config_tokens(parser: argparse.ArgumentParser, path: str, given: Sequence[str]) -> list[str]:
    """Turn a run-config file into command-line tokens for ``parser``, leaving out every option that ``given``
    (the real command line) sets, so flags override the file. Keys may use ``-`` or ``_``; lists become repeated
    options (``data: [pope=a, mme=b]``) or comma lists; ``true`` turns a switch on."""
    file = Path(path)
    if not file.is_file():
        raise BabelvlError(f"--config {path}: no such file (a dataset's config name is now --subset)")
    try:
        raw = json.loads(file.read_text()) if file.suffix == ".json" else yaml.safe_load(file.read_text())
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise BabelvlError(f"--config {path}: not valid YAML/JSON: {exc}") from None
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise BabelvlError(f"--config {path}: expected a mapping of option: value, got {type(raw).__name__}")
    index = _option_index(parser)
    given_options = {t.split("=", 1)[0][2:] for t in given if t.startswith("--")}
    tokens: list[str] = []
    for key, value in raw.items():
        name = str(key).replace("_", "-")
        action = index.get(name)
        if action is None or isinstance(action, _Renamed) or name == "config":
            known = ", ".join(sorted(k for k, a in index.items() if not isinstance(a, _Renamed)
                                     and k not in ("config", "help")))
            raise BabelvlError(f"--config {path}: key {key!r} is not an option of this command; known: {known}")
        if any(opt[2:] in given_options for opt in action.option_strings if opt.startswith("--")):
            continue
        if action.nargs == 0:
            if value is True:
                tokens.append(f"--{name}")
            elif value not in (False, None):
                raise BabelvlError(f"--config {path}: key {key!r} is a switch; use true or false")
            continue
        values = value if isinstance(value, list) else [value]
        if isinstance(action, argparse._AppendAction) or action.nargs in ("+", "*"):
            if isinstance(action, argparse._AppendAction):
                for v in values:
                    tokens += [f"--{name}", str(v)]
            else:
                tokens += [f"--{name}", *map(str, values)]
        else:
            tokens += [f"--{name}", ",".join(map(str, values)) if isinstance(value, list) else str(value)]
    return tokens
