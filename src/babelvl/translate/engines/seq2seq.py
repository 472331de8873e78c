"""Translate with encoder-decoder MT models (Marian/opus-mt, NLLB-200, MADLAD-400) through ``transformers``.

Each family names languages its own way: NLLB wants ``fra_Latn`` source/target codes (from the packs'
``translation.nllb_code``) and a forced first token, MADLAD-400 a ``<2fr>`` prefix, multi-target opus-mt models a
``>>fr<<`` prefix, and single-pair opus-mt models one model per pair (a model id with ``{src}``/``{tgt}``).
Tokenizers that cannot write ``⟦0⟧`` get placeholders in a form they keep, swapped back after decoding.
"""

from __future__ import annotations

import re
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import yaml

from babelvl.errors import BabelvlError
from babelvl.languages import LanguagePack
from babelvl.models.transformers_backend import folder_fingerprint, resolve_device, resolve_dtype
from babelvl.translate.base import Engine
from babelvl.translate.engines.prompts import PLACEHOLDER_RE, pack_code, translate_by_line

FAMILIES = ("auto", "marian", "nllb", "madlad", "plain")

#: licenses of well-known model families, used when no model card says otherwise (lower-case id substring, SPDX)
KNOWN_LICENSES: tuple[tuple[str, str], ...] = (
    ("facebook/nllb-", "CC-BY-NC-4.0"),
    ("madlad400", "Apache-2.0"),
    ("helsinki-nlp/opus-mt-", "CC-BY-4.0"),
)

#: decoding per prompt variant: a retry after a failed check gets beam search, then a repetition guard
VARIANT_DECODING: dict[int, dict[str, Any]] = {
    0: {"num_beams": 1},
    1: {"num_beams": 4},
    2: {"num_beams": 4, "no_repeat_ngram_size": 3},
}


# -- placeholders -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlaceholderForm:
    """How placeholder ``n`` is written while a model sees it, and a pattern that reads it back (spacing tolerant)."""

    template: str
    pattern: str

    def write(self, number: str) -> str:
        return self.template.format(n=number)

    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern)


NATIVE_FORM = PlaceholderForm("⟦{n}⟧", r"⟦\s*(\d+)\s*⟧")
#: fallbacks in order of preference: short, bracketed forms MT models copy through unchanged
FALLBACK_FORMS = (
    PlaceholderForm("[{n}]", r"\[\s*(\d+)\s*\]"),
    PlaceholderForm("{{{n}}}", r"\{\s*(\d+)\s*\}"),
    PlaceholderForm("<{n}>", r"<\s*(\d+)\s*>"),
    PlaceholderForm("#{n}", r"#\s?(\d+)\b"),
)


def choose_placeholder_form(round_trip: Callable[[str], str], texts: Sequence[str]) -> PlaceholderForm:
    """The first form the tokenizer writes back unchanged (``round_trip``: encode then decode) that no source text
    already contains literally (else swapping back would turn that text into a placeholder).

    When no form works, placeholders are sent as they are, with a warning: the placeholder check then flags the
    segments, rather than the whole run stopping.
    """
    if not any(PLACEHOLDER_RE.search(text) for text in texts):
        return NATIVE_FORM
    for form in (NATIVE_FORM, *FALLBACK_FORMS):
        sample = f"{form.write('0')} {form.write('12')}"
        if " ".join(round_trip(sample).split()) != sample:
            continue
        if form is NATIVE_FORM or not any(form.regex().search(text) for text in texts):
            return form
    warnings.warn("the MT tokenizer can write none of the placeholder forms ⟦0⟧ [0] {0} <0> #0; placeholders "
                  "will probably be lost (the placeholder check reports them)", UserWarning, stacklevel=2)
    return NATIVE_FORM


def protect_placeholders(text: str, form: PlaceholderForm) -> str:
    """``⟦n⟧`` -> the form the model sees."""
    return text if form is NATIVE_FORM else PLACEHOLDER_RE.sub(lambda m: form.write(m.group(1)), text)


def restore_placeholders(text: str, form: PlaceholderForm, numbers: set[str] | None = None) -> str:
    """The model's form -> ``⟦n⟧``, for the placeholder numbers of the source only (``numbers``; all when None)."""

    def swap(match: re.Match[str]) -> str:
        return f"⟦{match.group(1)}⟧" if numbers is None or match.group(1) in numbers else match.group(0)

    return form.regex().sub(swap, text)


# -- license ------------------------------------------------------------------------------------------------------


def card_license(model: str, revision: str | None = None) -> str | None:
    """The ``license:`` of a model card (README front matter) in a local folder or the local Hub cache; no network."""
    folder = Path(model).expanduser()
    readme: Path | None = folder / "README.md" if folder.is_dir() else None
    if readme is None:
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(model, "README.md", revision=revision)
        except Exception:  # noqa: BLE001 - a malformed id or a cache problem only means "no card"
            cached = None
        readme = Path(cached) if isinstance(cached, str) else None
    if readme is None or not readme.is_file():
        return None
    match = re.match(r"^---\s*\n(.*?)\n---", readme.read_text(encoding="utf-8", errors="replace"), re.DOTALL)
    if not match:
        return None
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError:
        return None
    if not isinstance(meta, dict) or not meta.get("license"):
        return None
    license_ = str(meta["license"])
    if license_.lower() == "other" and meta.get("license_name"):
        license_ = str(meta["license_name"])
    return license_


def known_license(model: str) -> str | None:
    lowered = model.lower()
    return next((license_ for part, license_ in KNOWN_LICENSES if part in lowered), None)


def is_non_commercial(license_: str) -> bool:
    return bool(re.search(r"(^|[-_ ])nc($|[-_ ])|non-?commercial", license_, re.IGNORECASE))


# -- engine -------------------------------------------------------------------------------------------------------


@dataclass
class _Loaded:
    model: Any
    tokenizer: Any
    family: str
    lock: threading.Lock = field(default_factory=threading.Lock)


class Seq2SeqEngine(Engine):
    """An ``AutoModelForSeq2SeqLM`` MT model from a Hub id or a local folder, loaded on first use.

    ``model`` may contain ``{src}`` and ``{tgt}`` (e.g. ``Helsinki-NLP/opus-mt-{src}-{tgt}``): one model per language
    pair, filled from the packs' ``translation.mt_code`` (default: the pack code). ``family`` is detected from the
    model unless given. ``license`` overrides what the model card or the known-family table says. Prompt variants
    change decoding (greedy, beam 4, beam 4 without repeated trigrams) so a retry can give another translation.
    """

    def __init__(
        self,
        model: str,
        *,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 16,
        max_new_tokens: int = 256,
        family: str = "auto",
        revision: str | None = None,
        license: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise BabelvlError(f"batch_size must be at least 1, got {batch_size}")
        if family not in FAMILIES:
            raise BabelvlError(f"unknown MT model family {family!r}; choose one of {', '.join(FAMILIES)}")
        local = Path(model).expanduser()
        self.model_name = str(local.resolve()) if local.is_dir() else model
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.family = family
        self.revision = revision
        self.license = license or card_license(self.model_name, revision) or known_license(model) or "unknown"
        if is_non_commercial(self.license):
            warnings.warn(
                f"MT model {model!r} is licensed {self.license}: non-commercial use only. Translations made with "
                "it inherit that restriction; for a permissive dataset use MADLAD-400 (Apache-2.0) or opus-mt "
                "(CC-BY-4.0).",
                UserWarning,
                stacklevel=2,
            )
        self._fingerprint = folder_fingerprint(local.resolve()) if local.is_dir() else None
        self._loaded: dict[str, _Loaded] = {}
        self._lock = threading.Lock()

    def identity(self) -> dict[str, Any]:
        ident: dict[str, Any] = {
            "engine": "mt",
            "model": self.model_name,
            "revision": self.revision,
            "family": self.family,
            "dtype": self.dtype,
            "max_new_tokens": self.max_new_tokens,
            "license": self.license,
        }
        if self._fingerprint is not None:
            ident["fingerprint"] = self._fingerprint
        return ident

    def prompt_id(self, variant: int = 0) -> str:
        if variant not in VARIANT_DECODING:
            raise ValueError(f"variant must be one of {tuple(VARIANT_DECODING)}, got {variant!r}")
        return ("greedy", "beam4", "beam4-norepeat3")[variant]

    # -- loading ----------------------------------------------------------------------------------------------------

    def model_for(self, source: LanguagePack, target: LanguagePack) -> str:
        """The model id or folder that translates this pair."""
        if "{src}" not in self.model_name and "{tgt}" not in self.model_name:
            return self.model_name
        return self.model_name.replace("{src}", _mt_code(source)).replace("{tgt}", _mt_code(target))

    def _load(self, name: str) -> _Loaded:
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = self._load_locked(name)
            return self._loaded[name]

    def _load_locked(self, name: str) -> _Loaded:
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(name, revision=self.revision)
            model = AutoModelForSeq2SeqLM.from_pretrained(name, revision=self.revision,
                                                          dtype=getattr(torch, self.dtype))
        except (OSError, ValueError) as exc:
            raise BabelvlError(f"cannot load MT model {name!r} as a sequence-to-sequence model: {exc}") from exc
        model = model.to(self.device).eval()
        family = self.family if self.family != "auto" else _detect_family(model, tokenizer)
        return _Loaded(model, tokenizer, family)

    def close(self) -> None:
        with self._lock:
            self._loaded.clear()

    # -- translation ------------------------------------------------------------------------------------------------

    def translate(self, texts: Sequence[str], source: LanguagePack, target: LanguagePack, *,
                  variant: int = 0) -> list[str]:
        self.prompt_id(variant)  # validates
        loaded = self._load(self.model_for(source, target))
        with loaded.lock:  # the tokenizer's source language is state shared by every caller
            return translate_by_line(
                texts, lambda lines: self._translate_lines(loaded, lines, source, target, variant)
            )

    def _translate_lines(self, loaded: _Loaded, lines: list[str], source: LanguagePack, target: LanguagePack,
                         variant: int) -> list[str]:
        tokenizer = loaded.tokenizer
        form = choose_placeholder_form(lambda s: _round_trip(tokenizer, s), lines)
        prefix, gen_kwargs = _language_setup(loaded, source, target)
        inputs = [prefix + protect_placeholders(line, form) for line in lines]
        outputs: list[str] = []
        for start in range(0, len(inputs), self.batch_size):
            outputs += self._generate(loaded, inputs[start : start + self.batch_size], gen_kwargs, variant)
        return [
            restore_placeholders(out, form, set(PLACEHOLDER_RE.findall(line))).strip()
            for out, line in zip(outputs, lines)
        ]

    def _generate(self, loaded: _Loaded, batch: list[str], gen_kwargs: dict[str, Any], variant: int) -> list[str]:
        import torch

        encoded = loaded.tokenizer(batch, padding=True, truncation=True, return_tensors="pt").to(loaded.model.device)
        with torch.inference_mode():
            output = loaded.model.generate(
                **encoded, **gen_kwargs, **VARIANT_DECODING[variant], do_sample=False,
                max_new_tokens=self.max_new_tokens,
            )
        return loaded.tokenizer.batch_decode(output, skip_special_tokens=True)


def _mt_code(pack: LanguagePack) -> str:
    return pack_code(pack, "mt_code") or pack.code


def _round_trip(tokenizer: Any, text: str) -> str:
    return tokenizer.decode(tokenizer(text)["input_ids"], skip_special_tokens=True)


def _detect_family(model: Any, tokenizer: Any) -> str:
    vocab = tokenizer.get_vocab()
    if model.config.model_type == "marian":
        return "marian"
    if "<2en>" in vocab or "<2fr>" in vocab:
        return "madlad"
    if "eng_Latn" in vocab and "fra_Latn" in vocab:
        return "nllb"
    return "plain"


def _language_setup(loaded: _Loaded, source: LanguagePack, target: LanguagePack) -> tuple[str, dict[str, Any]]:
    """The text prefix and ``generate`` arguments that tell the model which languages to use."""
    vocab = loaded.tokenizer.get_vocab()
    if loaded.family == "madlad":
        token = f"<2{_mt_code(target)}>"
        if token not in vocab:
            raise BabelvlError(f"MADLAD model has no target token {token}; set translation.mt_code in the "
                               f"'{target.code}' language pack")
        return f"{token} ", {}
    if loaded.family == "marian":
        token = f">>{_mt_code(target)}<<"
        return (f"{token} " if token in vocab else ""), {}
    if loaded.family == "nllb":
        src, tgt = _nllb_code(source, vocab), _nllb_code(target, vocab)
        loaded.tokenizer.src_lang = src
        return "", {"forced_bos_token_id": loaded.tokenizer.convert_tokens_to_ids(tgt)}
    return "", {}


def _nllb_code(pack: LanguagePack, vocab: dict[str, int]) -> str:
    """``translation.nllb_code`` from the pack; else the one vocabulary code that starts with the pack's code (packs
    named by an ISO 639-3 code need no entry)."""
    code = pack_code(pack, "nllb_code")
    if code is None:
        matches = [tok for tok in vocab if re.fullmatch(rf"{re.escape(pack.code)}_[A-Z][a-z]{{3}}", tok)]
        code = matches[0] if len(matches) == 1 else None
    if code is None:
        raise BabelvlError(f"language pack '{pack.code}' has no translation.nllb_code, which NLLB models need "
                           "(e.g. `nllb_code: por_Latn`); add it to the pack")
    if code not in vocab:
        raise BabelvlError(f"NLLB model does not know language code {code!r} (pack '{pack.code}')")
    return code
