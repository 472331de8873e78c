"""VLMEvalKit compatibility parser: its exact-matching answer extraction, without the GPT judge.

Reference: github.com/open-compass/VLMEvalKit @ e8e78f05f3080fe28154f2130321f17951c3be94 (2026-08-18),
- ``vlmeval/utils/matching_util.py``: ``can_infer_option``, ``can_infer_text``, ``can_infer``
  (multiple choice; VLMEvalKit calls them on the raw prediction before any judge);
- ``vlmeval/dataset/utils/yorn.py``: ``YOrN_Extraction`` (yes/no benchmarks such as MME and POPE);
- ``vlmeval/smp/misc.py``: ``process_punctuation`` (used by ``YOrN_Extraction``).

Versions of ``can_infer_option`` differ; this follows the current one: a letter token counts only
among the last four tokens of the response, and ``can_infer_text`` gives up on responses longer than
twice the total length of the option texts. When no option token is found, the current version also
reads verbose chain-of-thought answers with ``_VERBOSE_ANSWER_RE`` ("The correct answer is **B**",
"The answer is C": letters A-D only, case-insensitive, first match). The "A might be a quantifier" check only runs when the
``VERBOSE`` environment variable is set in VLMEvalKit; it is left out (the default).

English-only by design. Outcomes map to babelvl statuses: a letter -> "ok"; 'Z' (VLMEvalKit's
"refused / no answer": a known refusal sentence or a lone "Z") -> "refusal"; False (VLMEvalKit would
ask the judge, or record 'Z' under its ``exact_matching`` policy) -> "unparseable"; YOrN 'Unknown'
-> "unparseable".
"""

from __future__ import annotations

import re

from babelvl.parsing.result import Parsed

REJECT_TO_ANSWER = (
    "Sorry, I can't help with images of people yet.",
    "I can't process this file.",
    "I'm sorry, but without the image provided",
    "Cannot determine the answer",
)

_VERBOSE_ANSWER_RE = re.compile(r"(?i)(?:correct\s+)?answer\s+is\s+\**([ABCD])\**")
"""``matching_util._VERBOSE_ANSWER_RE`` as upstream (its ``(?i)`` also lets "answer is a" read as A)."""


def parse(response: str, *, kind: str, options: dict[str, str]) -> Parsed:
    if kind == "yesno":
        answer = yorn_extraction(response)
        return Parsed.ok(answer.lower()) if answer in ("Yes", "No") else Parsed.unparseable()
    result = can_infer(response, dict(options))
    if result == "Z" and "Z" not in options:
        return Parsed.refusal()
    if isinstance(result, str) and result in options:
        return Parsed.ok(result)
    return Parsed.unparseable()


def can_infer_option(answer: str, choices: dict[str, str]) -> str | bool:
    """A single option letter standing as its own token near the end of the answer."""
    if "Failed to obtain answer via API" in answer:
        return False
    for err in REJECT_TO_ANSWER:
        if err in answer:
            return "Z"

    def count_choice(splits: list[str], cands, prefix: str = "", suffix: str = "") -> int:
        return sum(1 for c in cands if prefix + c + suffix in splits)

    answer_mod = answer
    for c in ".()[],:;!*#{}":
        answer_mod = answer_mod.replace(c, " ")
    splits = [x.strip() for x in answer_mod.split()]
    count = count_choice(splits, choices)
    if count == 1:
        for ch in choices:
            if ch in splits and splits.index(ch) > (len(splits) - 5):
                return ch
    elif count == 0 and count_choice(splits, {"Z", ""}) == 1:
        return "Z"
    match = _VERBOSE_ANSWER_RE.search(answer or "")
    if match and match.group(1).upper() in choices:
        return match.group(1).upper()
    return False


def can_infer_text(answer: str, choices: dict[str, str]) -> str | bool:
    """Exactly one option text contained in the (short enough) answer, case-insensitively."""
    answer = answer.lower()
    if len(answer) > 2 * sum(len(str(v)) for v in choices.values()):
        return False
    lowered = {k: str(v).lower() for k, v in choices.items()}
    cands = [k for k, v in lowered.items() if v in answer]
    return cands[0] if len(cands) == 1 else False


def can_infer(answer: str, choices: dict[str, str]) -> str | bool:
    answer = str(answer)
    copt = can_infer_option(answer, choices)
    return copt if copt else can_infer_text(answer, choices)


_PUNCT = [";", r"/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`",
          ",", "?", "!"]
_COMMA_STRIP = re.compile(r"(\d)(,)(\d)")
_PERIOD_STRIP = re.compile(r"(?<!\d)\.(?!\d)")


def process_punctuation(in_text: str) -> str:
    out = in_text
    for p in _PUNCT:
        if (p + " " in in_text or " " + p in in_text) or _COMMA_STRIP.search(in_text) is not None:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    return _PERIOD_STRIP.sub("", out, count=int(re.UNICODE))  # sic: upstream passes re.UNICODE as count


def yorn_extraction(output: str) -> str:
    """'Yes' if "yes" is a word and "no" is not, 'No' for the reverse, else 'Unknown'."""
    words = process_punctuation(output.lower()).split()
    if "yes" in words and "no" not in words:
        return "Yes"
    if "yes" not in words and "no" in words:
        return "No"
    return "Unknown"
