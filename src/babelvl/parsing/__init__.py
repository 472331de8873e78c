"""Answer parsing: turn a model's free-text response into an option letter or yes/no.

Five modes ("profiles"; each also fixes how the benchmark aggregates, see ``babelvl.eval.scoring``):
``babelvl`` (``multilingual.py``, works in every language with a language pack, no LLM judge); two
English-only compatibility modes that reproduce what other toolkits would have scored, so numbers can be
compared with published ones: ``lmms-eval`` (``lmms_eval.py``) and ``vlmevalkit`` (``vlmevalkit.py``);
and the benchmarks' own scorers where they differ: ``pope-official`` and ``mme-official``
(``official.py``). Every module names the upstream file and commit it follows.
"""

from __future__ import annotations

from typing import Literal

from babelvl.languages import LanguagePack
from babelvl.parsing import lmms_eval, multilingual, official, vlmevalkit
from babelvl.parsing.result import Parsed

PARSERS = ("babelvl", "lmms-eval", "vlmevalkit", "pope-official", "mme-official")

__all__ = ["PARSERS", "Parsed", "parse_answer"]


def parse_answer(response: str, *, kind: Literal["choice", "yesno"], options: dict[str, str],
                 pack: LanguagePack, mode: str = "babelvl", benchmark: str | None = None) -> Parsed:
    """Read ``response`` as an answer of ``kind``; letters are limited to the keys of ``options``.

    ``pack`` is the item's language (the babelvl mode also reads English); ``benchmark`` picks the
    per-benchmark rules of the lmms-eval mode.
    """
    if kind not in ("choice", "yesno"):
        raise ValueError(f"unknown answer kind '{kind}': expected 'choice' or 'yesno'")
    response = "" if response is None else str(response)
    if mode == "babelvl":
        return multilingual.parse(response, kind=kind, options=options, pack=pack)
    if mode == "lmms-eval":
        return lmms_eval.parse(response, kind=kind, options=options, benchmark=benchmark)
    if mode == "vlmevalkit":
        return vlmevalkit.parse(response, kind=kind, options=options)
    if mode in official.OFFICIAL_PROFILES:
        return official.parse(response, kind=kind, mode=mode, benchmark=benchmark)
    raise ValueError(f"unknown parser mode '{mode}'; available: {', '.join(PARSERS)}")
