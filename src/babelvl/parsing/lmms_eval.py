"""lmms-eval compatibility parser: each benchmark's own post-processing, reproduced as written.

Reference: lmms-eval 0.7.3 (PyPI wheel ``lmms_eval-0.7.3``), checked against github.com/EvolvingLMMs-Lab/lmms-eval
@ 75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3 (2026-08-06): ``lmms_eval/tasks/{pope,mme,scienceqa,ai2d,mmbench}``.
Reading only; lmms-eval's POPE aggregation (recall and yes-ratio) is ``babelvl.benchmarks.pope.
lmms_eval_binary_metrics``, picked by ``babelvl.eval.scoring.compute_metrics`` for this profile.
The point is to report what lmms-eval would have scored, so its quirks are kept (English-only, and a
French "Oui" is not a yes). Before any task code runs, lmms-eval strips generated text
(``lmms_eval/api/task.py``, ``Task.process_results``); that is done here too.

lmms-eval has no notion of refusal: anything it does not read is "unparseable", never "refusal".
Scoring ``prediction == answer`` gives lmms-eval's own per-item score: a letter lmms-eval would read
but that is not one of the item's options (MMBench looks for A-E) can only score 0, so it is returned
as unparseable rather than as a prediction outside the options.
"""

from __future__ import annotations

import re
import string

from babelvl.parsing.result import Parsed

BENCHMARKS = ("pope", "mme", "scienceqa", "mmbench", "ai2d")


def canonical_benchmark(name: str | None) -> str:
    """Map babelvl benchmark names ("scienceqa_img", "MMBench") to the lmms-eval task family."""
    key = (name or "").lower().replace("-", "_")
    for family in BENCHMARKS:
        if key == family or key.startswith(family + "_"):
            return family
    raise ValueError(f"parser 'lmms-eval' needs a benchmark, one of {', '.join(BENCHMARKS)}; "
                     f"got {name!r}")


def parse(response: str, *, kind: str, options: dict[str, str], benchmark: str | None) -> Parsed:
    family = canonical_benchmark(benchmark)
    expected = "yesno" if family in ("pope", "mme") else "choice"
    if kind != expected:
        raise ValueError(f"lmms-eval '{family}' is a {expected} benchmark, not {kind}")
    pred = response.strip()
    if family == "pope":
        return _pope(pred)
    if family == "mme":
        return _yesno(parse_pred_ans(pred))
    if family == "scienceqa":
        return _letter(_scienceqa(pred, options), options)
    if family == "ai2d":
        return _letter(_ai2d(pred, options), options)
    return _letter(mmbench_can_infer(pred, options), options)


def _yesno(label: str) -> Parsed:
    return Parsed.ok(label) if label in ("yes", "no") else Parsed.unparseable()


def _letter(letter: str | None | bool, options: dict[str, str]) -> Parsed:
    if isinstance(letter, str) and letter in options:
        return Parsed.ok(letter)
    return Parsed.unparseable()


def _pope(pred: str) -> Parsed:
    """``lmms_eval/tasks/pope/utils.py`` ``pope_process_results``: lowercased, must equal yes/no."""
    return _yesno(pred.lower().strip())


def parse_pred_ans(pred_ans: str) -> str:
    """``lmms_eval/tasks/mme/utils.py`` ``parse_pred_ans`` ("Brought from Otter Eval").

    Exact "yes"/"no" after lowercasing and removing dots; "y"/"n"; else "yes" or "no" anywhere in the
    first four characters ("non" and "none" read as "no"; "oui" is "other").
    """
    pred_ans = pred_ans.lower().strip().replace(".", "")
    if pred_ans in ("yes", "no"):
        return pred_ans
    if len(pred_ans) == 1:
        return {"y": "yes", "n": "no"}.get(pred_ans, "other")
    prefix = pred_ans[:4]
    if "yes" in prefix:
        return "yes"
    if "no" in prefix:
        return "no"
    return "other"


def _scienceqa(pred: str, options: dict[str, str]) -> str | None:
    """``lmms_eval/tasks/scienceqa/utils.py`` ``sqa_process_results`` (LLaVA's rule).

    Correct when the whole response equals the target letter (case-insensitive) or when it matches
    ``^[A-Z]\\.``; anything else, "B) ..." or "The answer is B" included, scores 0.
    """
    for letter in options:
        if pred.lower() == letter.lower():
            return letter
    if len(pred) >= 2 and pred[0].isupper() and pred[1] == ".":
        return pred[0]
    return None


def _ai2d(pred: str, options: dict[str, str]) -> str | None:
    """``lmms_eval/tasks/ai2d/ai2d.yaml`` + ``utils.py``: ``MultiChoiceRegexFilter`` then ``exact_match``.

    The filter keeps the letter of ``^\\s*([A-Z])\\.``, else the whole response; ``exact_match`` with
    ``ignore_case`` and ``ignore_punctuation`` (``lmms_eval/api/metrics.py``
    ``exact_match_hf_evaluate``) then compares it with the target letter, so "(B)" and "b" count but
    "B) dog" and "The answer is B" do not.
    """
    match = re.match(r"^\s*([A-Z])\.", pred)
    filtered = (match.group(1) if match else pred).strip()  # Task.process_results strips again
    cleaned = filtered.lower().translate(str.maketrans("", "", string.punctuation))
    for letter in options:
        if cleaned == letter.lower().translate(str.maketrans("", "", string.punctuation)):
            return letter
    return None


def mmbench_can_infer(answer: str, options: dict[str, str]) -> str | bool:
    """``lmms_eval/tasks/mmbench/mmbench_evals.py`` ``MMBench_Evaluator.can_infer`` (the prefetch step).

    lmms-eval asks a GPT judge when this returns False; babelvl never calls a judge, so that case is
    "unparseable" here. Quirks kept: letters are looked for among A-E whatever the item's options;
    a bare "A" in a response of more than three words skips the bare-letter step; option texts only
    count for keys A-D (lmms-eval asserts on other keys).
    """
    copt = _can_infer_option(answer)
    if copt:
        return copt
    return _can_infer_text(answer, {k: v for k, v in options.items() if k in "ABCD"})


def _can_infer_option(answer: str, num_choice: int = 5) -> str | bool:
    choices = string.ascii_uppercase[:num_choice]
    if "Failed to obtain answer via API" in answer:
        return False

    def count(splits: list[str], prefix: str = "", suffix: str = "") -> int:
        return sum(1 for c in choices if prefix + c + suffix in splits)

    splits = [x.strip() for x in answer.split()]
    if count(splits) == 1:
        for ch in choices:
            if "A" in splits and len(splits) > 3:
                break  # "A might be a quantifier"
            if ch in splits:
                return ch
    tups = [("", "."), ("", ","), ("", ":"), ("", ")"), ("", ")."), ("(", ")"), ("(", ")."), (":", ""),
            (":", ","), (":", "."), (":", ")"), (":", ").")]
    for prefix, suffix in tups:
        if count(splits, prefix, suffix) == 1:
            for ch in choices:
                if prefix + ch + suffix in splits:
                    return ch
    return False


def _can_infer_text(answer: str, choices: dict[str, str]) -> str | bool:
    answer = answer.lower()
    cands = [k for k, v in choices.items() if str(v).lower() in answer]
    return cands[0] if len(cands) == 1 else False
