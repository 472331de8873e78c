"""Parity on real model outputs: every predictions file x every profile, and restyled answers.

Scores every ``<benchmark>/predictions/*.jsonl`` under DIR (laid out like ``../shared/realdata``: each
benchmark folder holds its Parquet data and a ``predictions`` folder of babelvl predictions JSONL) with
every parser profile that applies, and prints one table: benchmark x predictions x profile, headline
numbers with their 95% intervals. The data file for a predictions file is the Parquet file in the
benchmark folder with as many rows as the file has predictions (else the largest).

Then, with the default profile, the same answers are RESTYLED: every multiple-choice answer the parser
reads as letter L is rewritten as "L) text", "(L) text", "**L. text**", "The correct answer is L: text"
and as "<answer prefix> L) text" / "<Answer label>: L) text" in French, German, Italian and Spanish
(prefixes and labels come from the language packs); yes/no answers become the packs' yes/no words
("Oui.", "Nein.", ...). The restyled headline numbers must equal the original ones: the script prints
each and says "same" or the difference, and exits 1 if any differs.

    python benchmarks/real_parity.py ../shared/realdata [--json parity.json] [--no-restyle]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import re

import pyarrow.parquet as pq

from babelvl.benchmarks.base import Item, Rejected
from babelvl.benchmarks.registry import get_benchmark
from babelvl.data.loading import load_rows
from babelvl.eval.scoring import score_responses
from babelvl.eval.uncertainty import paired_difference
from babelvl.io.files import iter_jsonl
from babelvl.languages import LanguagePack, load_language
from babelvl.parsing import PARSERS

HEADLINES: dict[str, list[tuple[str, str]]] = {
    "pope": [("F1 adv", "adversarial.f1"), ("F1 pop", "popular.f1"), ("F1 rand", "random.f1"),
             ("F1 all", "overall.f1")],
    "mme": [("perception", "perception"), ("cognition", "cognition")],
    "mmbench": [("circular", "circular_accuracy")],
    "scienceqa": [("accuracy", "accuracy")],
    "ai2d": [("accuracy", "accuracy")],
}
OFFICIAL_ONLY = {"pope-official": "pope", "mme-official": "mme"}
RESTYLE_LANGUAGES = ("en", "fr", "de", "it", "es")


def lookup(metrics: dict[str, Any], path: str) -> Any:
    value: Any = metrics
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def load_items(bench: Any, data: Path) -> list[Item]:
    rows = load_rows(str(data), language="en")
    return [obj for obj in bench.iter_items(rows, "en", str(data)) if not isinstance(obj, Rejected)]


def read_predictions(path: Path, items: list[Item]) -> dict[str, str]:
    by_row: dict[int, str] = {}
    for item in items:
        by_row.setdefault(item.row, item.id)
    out = {}
    for _, pred in iter_jsonl(path):
        key = str(pred["id"]) if "id" in pred else by_row.get(int(pred["row"]))
        if key is not None:
            out[key] = pred["response"]
    return out


def pick_data(folder: Path, n_predictions: int) -> Path:
    files = sorted(folder.glob("*.parquet"))
    if not files:
        raise SystemExit(f"{folder}: no Parquet data next to the predictions folder")
    sizes = {f: pq.ParquetFile(f).metadata.num_rows for f in files}
    exact = [f for f, n in sizes.items() if n == n_predictions]
    return exact[0] if exact else max(files, key=lambda f: sizes[f])


Style = Callable[[str, str], str]


def styles() -> dict[str, tuple[Style, str]]:
    """Letter + option text answer styles -> (rewrite, language they are scored in); the localised ones
    are built from the packs' own words."""
    out: dict[str, tuple[Style, str]] = {
        "L) text": (lambda L, t: f"{L}) {t}", "en"),
        "(L) text": (lambda L, t: f"({L}) {t}", "en"),
        "**L. text**": (lambda L, t: f"**{L}. {t}**", "en"),
    }
    for code in RESTYLE_LANGUAGES:
        pack = load_language(code)
        prefix = _correct_prefix(pack)
        label = pack.label("answer", "Answer")
        sep = ":" if code == "en" else ")"
        out[f"{code}: prefix L{sep} text"] = ((lambda p, s: lambda L, t: f"{p} {L}{s} {t}")(prefix, sep), code)
        if code != "en":
            out[f"{code}: label: L) text"] = ((lambda lab: lambda L, t: f"{lab}: {L}) {t}")(label), code)
    return out


def _correct_prefix(pack: LanguagePack) -> str:
    """The pack's "the correct answer is" (its second answer prefix), capitalised."""
    prefixes = list(pack.answer_prefixes)
    text = prefixes[1] if len(prefixes) > 1 else prefixes[0]
    return text[:1].upper() + text[1:]


_POPE_OBJECT = re.compile(r"^Is there (an? .+?) in the im", re.IGNORECASE)


def restyle(scored: list[Any], responses: dict[str, str], items: dict[str, Item],
            style: Callable[[str, str], str] | str, pack: LanguagePack) -> dict[str, str]:
    """Rewrite every answer the parser read; answers it did not read stay as they were.

    ``style`` is a letter+text rewrite, "word" (the pack's yes/no word) or "sentence" (POPE: the pack's
    first affirmation + the object for yes, "There is no <object> in the image." in English for no).
    """
    out = dict(responses)
    for s in scored:
        if s.status != "ok" or s.id not in responses:
            continue
        if style == "word":
            out[s.id] = (pack.yes[0] if s.prediction == "yes" else pack.no[0]).capitalize() + "."
        elif style == "sentence":
            m = _POPE_OBJECT.match(items[s.id].question)
            if m is None:
                continue
            affirm = str(pack.extra["affirmations"][0])
            out[s.id] = (f"{affirm[:1].upper()}{affirm[1:]} {m.group(1)}." if s.prediction == "yes"
                         else f"There is no {m.group(1)[m.group(1).index(' ') + 1:]} in the image.")
        else:
            out[s.id] = style(s.prediction, items[s.id].options[s.prediction])
    return out


def fmt(metrics: dict[str, Any], path: str, scale: float) -> str:
    value = lookup(metrics, path)
    if value is None:
        return "–"
    u = metrics.get("uncertainty", {}).get("metrics", {}).get(path)
    text = f"{scale * value:.2f}"
    if u and u.get("ci95"):
        text += f" [{scale * u['ci95'][0]:.2f}, {scale * u['ci95'][1]:.2f}]"
    return text


PAIRED_HEADER = ["benchmark", "data", "B − A", "metric", "difference [95% CI]", "units", "only A right",
                 "only B right", "McNemar p"]


def paired_table(runs: dict[tuple[str, str], list[tuple[str, list[Any]]]]) -> list[list[str]]:
    """Every later predictions file against the first one on the same data file."""
    rows = []
    for (name, data), files in runs.items():
        (first, ref), others = files[0], files[1:]
        for stem, scored in others:
            d = paired_difference(name, ref, scored)
            scale = 1.0 if name == "mme" else 100.0
            rows.append([name, data, f"{stem} − {first}", d["metric"],
                         f"{scale * d['value']:+.2f} [{scale * d['ci95'][0]:+.2f}, {scale * d['ci95'][1]:+.2f}]",
                         str(d["n_units"]), str(d["only_ref_right"]), str(d["only_other_right"]),
                         f"{d['p_mcnemar']:.3g}"])
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")
    ap.add_argument("--no-restyle", action="store_true", help="skip the restyled-answers check")
    args = ap.parse_args(argv)

    rows: list[list[str]] = []
    record: list[dict[str, Any]] = []
    mismatches = 0
    runs: dict[tuple[str, str], list[tuple[str, list[Any]]]] = {}
    for pred_file in sorted(args.dir.glob("*/predictions/*.jsonl")):
        name = pred_file.parent.parent.name
        bench = get_benchmark(name)
        n_pred = sum(1 for _ in iter_jsonl(pred_file))
        data = pick_data(pred_file.parent.parent, n_pred)
        items = load_items(bench, data)
        responses = read_predictions(pred_file, items)
        scale = 1.0 if name == "mme" else 100.0
        base = None
        for profile in PARSERS:
            if OFFICIAL_ONLY.get(profile, name) != name:
                continue
            t0 = time.perf_counter()
            result = score_responses(bench, items, responses, "en", profile)
            m = result.metrics
            if profile == "babelvl":
                base = result
            cells = [fmt(m, path, scale) for _, path in HEADLINES.get(name, HEADLINES["scienceqa"])]
            rows.append([name, pred_file.stem, data.name, profile, " / ".join(cells),
                         f"{m['n_unparseable']}/{m['n_unsure']}/{m['n_refusal']}/{m['n_empty']}",
                         f"{time.perf_counter() - t0:.1f}s"])
            record.append({"benchmark": name, "predictions": pred_file.name, "data": data.name,
                           "profile": profile, "metrics": {p: lookup(m, p) for _, p in HEADLINES.get(
                               name, HEADLINES["scienceqa"])}, "uncertainty": m["uncertainty"]})
        if base is not None:
            runs.setdefault((name, data.name), []).append((pred_file.stem, base.scored))
        if args.no_restyle or base is None:
            continue
        by_id = {item.id: item for item in items}
        variants: dict[str, tuple[Style | str, str]]
        if bench.kind == "choice":
            variants = dict(styles())
        else:
            variants = {f"{code}: yes/no word": ("word", code) for code in RESTYLE_LANGUAGES}
            if name == "pope":
                variants.update({f"{code}: presence sentence": ("sentence", code) for code in RESTYLE_LANGUAGES})
        for label, (style, code) in variants.items():
            pack = load_language(code)
            new = restyle(base.scored, responses, by_id, style, pack)
            m = score_responses(bench, items, new, code, "babelvl").metrics
            diffs = [abs((lookup(m, p) or 0) - (lookup(base.metrics, p) or 0)) for _, p in
                     HEADLINES.get(name, HEADLINES["scienceqa"])]
            same = all(d < 1e-12 for d in diffs)
            mismatches += not same
            cells = [fmt(m, path, scale).split(" [")[0] for _, path in HEADLINES.get(name, HEADLINES["scienceqa"])]
            rows.append([name, pred_file.stem, data.name, f"restyled {label}", " / ".join(cells),
                         f"{m['n_unparseable']}/{m['n_unsure']}/{m['n_refusal']}/{m['n_empty']}",
                         "same" if same else "DIFFERS"])
            record.append({"benchmark": name, "predictions": pred_file.name, "profile": "babelvl",
                           "restyled": label, "same": same})

    header = ["benchmark", "predictions", "data", "profile", "headline [95% CI]",
              "unparseable/unsure/refusal/empty", "time or check"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(r) + " |")
    paired = paired_table(runs)
    if paired:
        print("\nPaired comparisons on the same items (default profile): the computation `babelvl eval` "
              "reports for each language against English.\n")
        print("| " + " | ".join(PAIRED_HEADER) + " |")
        print("|" + "---|" * len(PAIRED_HEADER))
        for r in paired:
            print("| " + " | ".join(r) + " |")
    if args.json:
        args.json.write_text(json.dumps(record, indent=1, default=float), encoding="utf-8")
    if mismatches:
        print(f"\n{mismatches} restyled variant(s) changed a headline number", file=sys.stderr)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
