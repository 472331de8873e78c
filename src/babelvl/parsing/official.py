"""Benchmark-official reading rules: the scorers that a benchmark's own authors ship.

Two profiles, each valid for one benchmark only (another benchmark raises ``ValueError``):

- ``pope-official``: ``evaluate.py`` of github.com/AoiDragon/POPE @ 08d957b917e5a378a2f99d35b6293c536a66298b.
  Only the first sentence is read (text before the first "."), commas are removed, and the text is
  split on single spaces; the answer is "no" when a word is exactly "No", "no" or "not", and "yes"
  otherwise. Every response is therefore an answer: an empty string or "I cannot tell" is "yes".
  Its metrics (TP/FP/TN/FN, precision, recall, F1, yes-ratio of predictions) are babelvl's
  ``binary_metrics`` on these readings.
- ``mme-official``: ``eval_tool/calculation.py`` of MME's eval tool (github.com/BradyFU/
  Awesome-Multimodal-Large-Language-Models @ 1c1d69e138b57cf8b0400427927bfb8ed4285458, branch Evaluation,
  ``tools/eval_tool.zip``). The answer is the last tab-separated field of a results line, lowercased
  and NOT stripped (so it keeps the line's newline): exactly "yes"/"no", else "yes" when "yes" occurs
  in its first four characters, else "no" when "no" does, else "other" (wrong, counted as
  unparseable). Unlike lmms-eval's port it removes no dots and does not read "y"/"n". Its metrics
  (per category acc + acc+ over consecutive question pairs) are babelvl's MME metrics.
"""

from __future__ import annotations

from babelvl.parsing.result import Parsed

OFFICIAL_PROFILES = {"pope-official": "pope", "mme-official": "mme"}


def parse(response: str, *, kind: str, mode: str, benchmark: str | None) -> Parsed:
    family = (benchmark or "").lower()
    wanted = OFFICIAL_PROFILES[mode]
    if family != wanted or kind != "yesno":
        raise ValueError(f"parser '{mode}' applies only to {wanted}, not {benchmark or kind!r}")
    if mode == "pope-official":
        return Parsed.ok(pope_evaluate_rule(response))
    label = mme_eval_tool_rule(response)
    return Parsed.ok(label) if label != "other" else Parsed.unparseable()


def pope_evaluate_rule(text: str) -> str:
    """POPE ``evaluate.py``: "no" if the first sentence holds the word "No", "no" or "not"; else "yes"."""
    if text.find(".") != -1:
        text = text.split(".")[0]
    words = text.replace(",", "").split(" ")
    return "no" if ("No" in words or "not" in words or "no" in words) else "yes"


def mme_eval_tool_rule(response: str) -> str:
    """MME ``calculation.py`` ``parse_pred_ans`` on the answer field as the tool reads it from its file."""
    pred = (response + "\n").lower()  # the field is the end of a line read with readlines()
    if pred in ("yes", "no"):
        return pred
    prefix = pred[:4]
    if "yes" in prefix:
        return "yes"
    if "no" in prefix:
        return "no"
    return "other"
