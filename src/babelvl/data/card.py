"""Dataset cards (README.md with a YAML header) for every dataset babelvl writes.

The YAML header follows the Hugging Face dataset card format (``language``, ``license``, ``configs``
with ``data_files`` per config), so ``load_dataset(folder_or_repo, "fr")`` finds each language, and the
body records every license involved: the source data's and each model's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml


@dataclass
class ModelUse:
    role: str
    """What the model did ("translation engine", "fallback engine", "caption writer")."""
    identity: dict[str, Any]
    license: str
    low_quality: bool = False


@dataclass
class Card:
    title: str
    languages: list[str]
    split: str
    source: str
    source_license: str
    models: list[ModelUse] = field(default_factory=list)
    created: str = ""
    babelvl_version: str = ""
    sections: list[tuple[str, str]] = field(default_factory=list)
    """Extra (heading, markdown) sections: field spec, quality summary, post-editing."""
    configs_glob: str = "*.parquet"
    """Which files of each language folder form the config."""
    without_data: tuple[str, ...] = ()
    """Languages whose every row was rejected: listed, but given no config (``load_dataset`` fails on a config
    whose folder holds no data file, and would fail for that one only if it were listed)."""

    def header(self) -> dict[str, Any]:
        return {
            "language": self.languages,
            "license": "other",
            "license_name": self.source_license or "unknown",
            "tags": ["babelvl", "multilingual", "vision-language"],
            "configs": [{"config_name": lang,
                         "data_files": [{"split": self.split, "path": f"{lang}/{self.configs_glob}"}]}
                        for lang in self.languages if lang not in self.without_data],
        }

    def render(self) -> str:
        lines = ["---", yaml.safe_dump(self.header(), sort_keys=False, allow_unicode=True).rstrip(), "---",
                 "", f"# {self.title}", "",
                 f"- source: `{self.source}` (license: {self.source_license or 'unknown'})",
                 f"- languages: {', '.join(self.languages)}",
                 *([f"- no row kept (every row rejected, reasons in <language>/rejects/): "
                    f"{', '.join(self.without_data)}"] if self.without_data else []),
                 f"- created: {self.created} with babelvl {self.babelvl_version}", ""]
        lines += ["## Models and their licenses", "", "| role | model | license |", "|---|---|---|"]
        for m in self.models:
            model = m.identity.get("model") or m.identity.get("name") or m.identity
            lines.append(f"| {m.role} | `{model}` | {m.license} |")
        lines.append("")
        for m in self.models:
            if m.low_quality:
                lines += [f"**Warning: `{m.identity.get('model', m.identity)}` is a low-quality offline "
                          "demo/test engine. Do not publish or train on this data.**", ""]
        for heading, body in self.sections:
            lines += [f"## {heading}", "", body.rstrip(), ""]
        return "\n".join(lines)
