"""Run any Hugging Face image-text-to-text model in-process with ``transformers``.

The model is loaded on first use (``load()`` or ``generate()``), so a run whose answers are all cached never pays for
loading weights.
"""

from __future__ import annotations

import hashlib
import io
import threading
import time
from pathlib import Path
from typing import Any, Sequence

from babelvl.errors import BabelvlError
from babelvl.models.base import Backend, GenerationSettings, Request

_DTYPES = ("auto", "float32", "bfloat16", "float16")


def resolve_device(device: str) -> str:
    """``auto`` means the first CUDA GPU, then Apple MPS, then CPU. An explicit device this torch build
    or machine cannot use is a :class:`BabelvlError` saying why, before any model is loaded."""
    import torch

    if device != "auto":
        try:
            parsed = torch.device(device)
        except (RuntimeError, ValueError):
            raise BabelvlError(f"--device {device!r} is not a device; use auto, cpu, cuda, cuda:N or mps") from None
        if parsed.type == "cuda":
            if not torch.cuda.is_available():
                build = "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}"
                raise BabelvlError(f"--device {device}: no usable CUDA GPU (torch {torch.__version__} is {build}); "
                                   "install a CUDA build of torch on a GPU machine, or use --device cpu or auto")
            if parsed.index is not None and parsed.index >= torch.cuda.device_count():
                raise BabelvlError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA "
                                   f"device(s) (cuda:0..cuda:{torch.cuda.device_count() - 1})")
        elif parsed.type == "mps" and not (getattr(torch.backends, "mps", None) is not None
                                           and torch.backends.mps.is_available()):
            raise BabelvlError(f"--device {device}: Apple MPS is not available here; use --device cpu or auto")
        elif parsed.type not in ("cpu", "cuda", "mps"):
            raise BabelvlError(f"--device {device!r}: babelvl runs models on cpu, cuda or mps")
        return device

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def resolve_dtype(dtype: str, device: str) -> str:
    """``auto`` means bfloat16 on a GPU that supports it, float16 on other accelerators, float32 on CPU.

    Resolved before loading so the dtype (which changes answers) can be part of the cache identity.
    """
    if dtype not in _DTYPES:
        raise BabelvlError(f"unknown dtype {dtype!r}; choose one of {', '.join(_DTYPES)}")
    if dtype != "auto":
        return dtype
    if device.startswith("cuda"):
        import torch

        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    if device.startswith("mps"):
        return "float16"
    return "float32"


def folder_fingerprint(folder: Path) -> str:
    """A short hash of config.json plus every file's name, size and mtime: a changed local model gets a new identity."""
    digest = hashlib.sha256()
    config = folder / "config.json"
    if config.is_file():
        digest.update(config.read_bytes())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):  # download caches and lock files churn
            continue
        stat = path.stat()
        digest.update(f"{relative.as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def decode_image(data: bytes, index: int, image_index: int):
    """Encoded bytes -> RGB PIL image, with an error that names the request."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise BabelvlError(f"request {index}: image {image_index} is not a readable image ({exc})") from exc


class TransformersBackend(Backend):
    """An ``AutoModelForImageTextToText`` + ``AutoProcessor`` model from a Hub id or a local folder.

    Prompts go through the processor's chat template (user turn: images, then the text; optional system turn).
    Models without a chat template (PaliGemma) get the processor's own prompt form: ``<image>`` * n + text.
    Batches are left-padded so every row's new tokens start at the same position.
    """

    generated_tokens: int | None = 0
    _last_new_tokens = 0

    def __init__(
        self,
        model: str,
        *,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 8,
        revision: str | None = None,
        trust_remote_code: bool = False,
    ) -> None:
        if batch_size < 1:
            raise BabelvlError(f"batch_size must be at least 1, got {batch_size}")
        local = Path(model).expanduser()
        self.local_path: Path | None = local.resolve() if local.is_dir() else None
        self.model_name = str(self.local_path) if self.local_path else model
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.batch_size = batch_size
        self.revision = revision
        self.trust_remote_code = trust_remote_code
        # load straight onto the accelerator (no CPU copy first); "auto" spreads a big model over all GPUs
        self._device_map: str | None = None
        if self.device != "cpu":
            self._device_map = "auto" if device == "auto" and self.device == "cuda" else self.device
        self._fingerprint: str | None = None
        self._model: Any = None
        self._processor: Any = None
        self._text_only = False
        self._lock = threading.Lock()

    def identity(self) -> dict[str, Any]:
        ident: dict[str, Any] = {
            "backend": "transformers",
            "model": self.model_name,
            "revision": self.revision,
            "dtype": self.dtype,
        }
        if self.local_path is not None:
            if self._fingerprint is None:
                self._fingerprint = folder_fingerprint(self.local_path)
            ident["fingerprint"] = self._fingerprint
        return ident

    # -- loading -------------------------------------------------------------------------------------------------

    def load(self) -> None:
        """Load processor and model now (otherwise the first ``generate`` does)."""
        with self._lock:
            self._load_locked()

    def _load_locked(self) -> None:
        if self._model is not None:
            return
        started = time.perf_counter()
        try:
            self._load_model()
        finally:
            self.load_seconds += time.perf_counter() - started

    def _load_model(self) -> None:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        common = {"revision": self.revision, "trust_remote_code": self.trust_remote_code}
        try:
            processor = AutoProcessor.from_pretrained(self.model_name, **common)
        except (OSError, ValueError):
            processor = None
        load_kwargs: dict[str, Any] = {**common, _dtype_kwarg(): getattr(torch, self.dtype)}
        if self._device_map is not None:
            load_kwargs["device_map"] = self._device_map
        if processor is None or getattr(processor, "image_processor", None) is None:
            # A text-only chat LLM (e.g. for translation): tokenizer + causal LM. Requests with images are refused
            # at generate time with a clear error, so a text model never silently "evaluates" a VL benchmark.
            self._load_text_only(common, load_kwargs)
            return
        tokenizer = processor.tokenizer
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        try:
            model = AutoModelForImageTextToText.from_pretrained(self.model_name, **load_kwargs)
        except (OSError, ValueError) as exc:
            raise BabelvlError(
                f"cannot load model {self.model_name!r} as an image-text-to-text model: {exc}"
            ) from exc
        self._processor, self._model = processor, model.eval()

    def _load_text_only(self, common: dict[str, Any], load_kwargs: dict[str, Any]) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(self.model_name, **common)
            model = AutoModelForCausalLM.from_pretrained(self.model_name, **load_kwargs)
        except (OSError, ValueError) as exc:
            raise BabelvlError(f"cannot load {self.model_name!r} as an image-text-to-text model nor as a "
                               f"text-only causal LM: {exc}") from exc
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self._text_only = True
        self._processor, self._model = tokenizer, model.eval()

    def close(self) -> None:
        with self._lock:
            self._model = self._processor = None
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()

    # -- generation ----------------------------------------------------------------------------------------------

    def generate(self, requests: Sequence[Request], settings: GenerationSettings) -> list[str]:
        answers: list[str | None] = [None] * len(requests)
        # processors disagree on batches that mix image counts (Idefics3, PaliGemma), so batch equal counts together
        groups: dict[int, list[int]] = {}
        for index, request in enumerate(requests):
            groups.setdefault(len(request.images), []).append(index)
        with self._lock:
            self._load_locked()
            for indices in groups.values():
                for start in range(0, len(indices), self.batch_size):
                    chunk = indices[start : start + self.batch_size]
                    texts = self._generate_batch([(i, requests[i]) for i in chunk], settings)
                    self.generated_tokens = (self.generated_tokens or 0) + self._last_new_tokens
                    for i, text in zip(chunk, texts):
                        answers[i] = text
        return [a if a is not None else "" for a in answers]

    def _prompt_text(self, request: Request) -> str:
        processor = self._processor
        if self._text_only:
            messages = ([{"role": "system", "content": request.system}] if request.system else [])
            messages.append({"role": "user", "content": request.prompt})
            if getattr(processor, "chat_template", None):
                return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            return f"{request.system}\n{request.prompt}" if request.system else request.prompt
        own = getattr(processor, "chat_template", None)
        template = own or getattr(processor.tokenizer, "chat_template", None)
        if template:
            content: list[dict[str, Any]] = [{"type": "image"} for _ in request.images]
            content.append({"type": "text", "text": request.prompt})
            messages: list[dict[str, Any]] = []
            if request.system:
                messages.append({"role": "system", "content": [{"type": "text", "text": request.system}]})
            messages.append({"role": "user", "content": content})
            return processor.apply_chat_template(
                messages, chat_template=None if own else template, add_generation_prompt=True, tokenize=False
            )
        # No chat template (PaliGemma): the processor's documented input is "<image>" * n + prompt; it adds bos and
        # the trailing newline itself. There is no system turn, so a system text is put before the prompt.
        image_token = getattr(processor, "image_token", None) or "<image>"
        prompt = f"{request.system}\n{request.prompt}" if request.system else request.prompt
        return image_token * len(request.images) + prompt

    def _generate_batch(self, batch: list[tuple[int, Request]], settings: GenerationSettings) -> list[str]:
        import torch

        processor, model = self._processor, self._model
        texts = [self._prompt_text(request) for _, request in batch]
        if self._text_only:
            if any(request.images for _, request in batch):
                raise BabelvlError(f"model {self.model_name!r} is a text-only language model: it cannot take "
                                   "images (use an image-text-to-text model for vision-language benchmarks)")
            tokenizer = processor
            inputs = tokenizer(texts, padding=True, return_tensors="pt", add_special_tokens=False).to(model.device)
            return self._decode(model, tokenizer, inputs, settings)
        images = [[decode_image(img, i, k) for k, img in enumerate(request.images)] for i, request in batch]
        has_images = any(images)
        inputs = processor(
            text=texts, images=images if has_images else None, padding=True, return_tensors="pt"
        )
        inputs.pop("labels", None)  # PaliGemma returns training labels; generate() must not see them
        inputs = inputs.to(model.device)
        for key, value in inputs.items():
            if torch.is_floating_point(value):
                inputs[key] = value.to(model.dtype)
        return self._decode(model, processor.tokenizer, inputs, settings)

    def _decode(self, model: Any, tokenizer: Any, inputs: Any, settings: GenerationSettings) -> list[str]:
        import torch

        gen_kwargs: dict[str, Any] = {
            "max_new_tokens": settings.max_new_tokens,
            "pad_token_id": tokenizer.pad_token_id,
        }
        if settings.temperature == 0:
            gen_kwargs["do_sample"] = False
        else:
            gen_kwargs.update(do_sample=True, temperature=settings.temperature, top_p=settings.top_p)
            torch.manual_seed(settings.seed)
        with torch.inference_mode():
            output = model.generate(**inputs, **gen_kwargs)
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        # generated tokens, padding after an early end excluded (for tokens/s in results.json)
        self._last_new_tokens = int((new_tokens != tokenizer.pad_token_id).sum()) if tokenizer.pad_token_id is not None \
            else int(new_tokens.numel())
        decoded = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        return [text.strip() for text in decoded]


def _dtype_kwarg() -> str:
    """transformers >= 4.56 calls it ``dtype``; older releases only know ``torch_dtype``."""
    import transformers
    from packaging.version import Version

    return "dtype" if Version(transformers.__version__) >= Version("4.56") else "torch_dtype"
