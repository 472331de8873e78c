"""Which metrics a report shows for each benchmark, and the one headline number used in the heatmap."""

from __future__ import annotations

from typing import Any

# (column label, key path into the metrics dict, kind): kind "frac" prints as a percentage, "pts" as points.
COLUMNS: dict[str, list[tuple[str, tuple[str, ...], str]]] = {
    "mmbench": [("CircularEval", ("circular_accuracy",), "frac"),
                ("vanilla", ("vanilla_accuracy",), "frac"), ("questions", ("n_questions",), "int")],
    "scienceqa": [("accuracy", ("accuracy",), "frac"), ("n", ("n",), "int")],
    "ai2d": [("accuracy", ("accuracy",), "frac"), ("n", ("n",), "int")],
    "mme": [("perception", ("perception",), "pts"), ("cognition", ("cognition",), "pts"),
            ("total", ("total",), "pts")],
    "pope": [("accuracy", ("overall", "accuracy"), "frac"), ("precision", ("overall", "precision"), "frac"),
             ("recall", ("overall", "recall"), "frac"), ("F1", ("overall", "f1"), "frac"),
             ("yes-ratio", ("overall", "yes_ratio"), "frac"), ("n", ("overall", "n"), "int")],
}
COMMON = [("unparseable", ("n_unparseable",), "int"), ("refusals", ("n_refusal",), "int"),
          ("unsure", ("n_unsure",), "int"), ("empty", ("n_empty",), "int"),
          ("rejected rows", ("rejected",), "int")]


def lookup(metrics: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = metrics
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def fmt(value: Any, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "frac":
        return f"{100 * value:.1f}"
    if kind == "pts":
        return f"{value:.1f}"
    return str(value)


def columns_for(benchmark: str) -> list[tuple[str, tuple[str, ...], str]]:
    return COLUMNS.get(benchmark, [("accuracy", ("accuracy",), "frac")]) + COMMON


def headline(benchmark: str, metrics: dict[str, Any]) -> tuple[str, float | None]:
    """(label, value in [0, 1]) for the benchmark x language heatmap."""
    if benchmark == "mmbench":
        value = metrics.get("circular_accuracy")
        if value is None:
            return "MMBench vanilla acc", metrics.get("vanilla_accuracy")
        return "MMBench CircularEval", value
    if benchmark == "mme":
        # Mean category score / 200: equals total / 2800 on the full set, and stays comparable on subsets.
        scores = [c["score"] for c in metrics.get("categories", {}).values() if c.get("score") is not None]
        return "MME mean category score / 200", sum(scores) / (200 * len(scores)) if scores else None
    if benchmark == "pope":
        return "POPE F1", lookup(metrics, ("overall", "f1"))
    return f"{benchmark} accuracy", metrics.get("accuracy")
