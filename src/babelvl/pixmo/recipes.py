"""Multi-PixMo recipes: one small declared pipeline per source, regenerating its texts in a target language.

- ``ama`` (PixMo-AskModelAnything): the human-written question and answer are translated (with the
  benchmark translation machinery: masking, cached engine, checks).
- ``cap`` (PixMo-Cap): a dense caption is WRITTEN in the target language from the human transcripts by a
  text-only LLM (the paper's regeneration), prompt from the language pack.
- ``cosyn`` (CoSyn-400K): question-answer pairs are regenerated in the target language from the code and
  data that rendered the image, as the original English pairs were.

Every generated text passes the automatic checks; a record that still fails after a retry with the
stricter prompt is rejected with its reasons (kept in the rejects file), never silently dropped.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from babelvl.languages import LanguagePack, load_language
from babelvl.pipeline import Pipeline, Step, reject
from babelvl.pipeline.steps import Record

CHAT_CHECK_SKIPS = ("length_ratio", "untranslated", "numbers", "placeholders")


@dataclass(frozen=True)
class RecipeConfig:
    """What a recipe's steps need; plain values so Ray can ship it to workers."""

    target: str
    source_language: str = "en"
    engine: str | None = None
    """Translation engine spec (ama, localized strings)."""
    generator: str | None = None
    """Model backend spec that writes texts (cap, cosyn): ``openai:MODEL`` or a local path/Hub id."""
    options: tuple[tuple[str, Any], ...] = ()
    """Engine/backend options (base_url, license...)."""
    cache_path: str = ""
    max_new_tokens: int = 512
    retries: int = 1
    batch_size: int = 256
    """Records per call of a model step: the build passes its shard size, so a shard is one stream of requests
    (a served model's window keeps ``concurrency`` of them in flight; an in-process model batches by its own)."""
    localize_images: bool = False
    with_image: bool = False
    """Send the fetched image with each generation prompt (a VLM generator: captions from transcripts plus
    image, answers regenerated from the image)."""
    regenerate_answers: bool = False
    """AMA: after translating the question, a VLM writes the answer from the image in the target language."""

    def option_dict(self, *, backend: bool = False) -> dict[str, Any]:
        """Options for ``load_engine`` (all), or for ``load_backend`` (without the card-only ``license``)."""
        return {k: v for k, v in self.options if not (backend and k == "license")}


def _checker(cfg: RecipeConfig, skip: tuple[str, ...] = ()) -> tuple[Any, LanguagePack, LanguagePack]:
    from babelvl.translate.checks import SegmentChecker
    from babelvl.translate.langid import LanguageDetector

    source, target = load_language(cfg.source_language), load_language(cfg.target)
    detector = LanguageDetector([source.code, target.code])
    return SegmentChecker(source, [target], detector=detector, skip=skip), source, target


def _errors(checker: Any, source_text: str, text: str, target: LanguagePack) -> list[str]:
    failures = checker.check(source_text, text, target=target, source_plain=source_text, target_plain=text)
    return [f"{f.check}: {f.reason}" for f in failures if f.severity == "error"]


def _cache(cfg: RecipeConfig) -> Any:
    from babelvl.models import ResponseCache

    return ResponseCache(cfg.cache_path)


_SHARED: dict[tuple[Any, ...], Any] = {}
_SHARED_LOCK = threading.Lock()


def served(spec: str | None) -> bool:
    """True for a model behind an OpenAI-compatible server (``openai:M``, ``llm:openai:M``)."""
    return bool(spec) and (spec.startswith("openai:") or spec.startswith("llm:openai:"))


def _shared(kind: str, spec: str, cfg: RecipeConfig, make: Callable[[], Any]) -> Any:
    """One instance per process for a served model, so every shard worker feeds the same sliding window
    (``--concurrency`` requests in flight in all); an in-process model is built per worker, as before."""
    if not served(spec):
        return make()
    key = (kind, spec, cfg.options, cfg.cache_path)
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = make()
        return _SHARED[key]


# --- AskModelAnything: translate question and answer ---------------------------------------------------

def _ama_step(cfg: RecipeConfig) -> Callable[[list[Record]], list[Record]]:
    from babelvl.translate.engines import CachedEngine, load_engine
    from babelvl.translate.texts import translate_texts

    engine = _shared("engine", cfg.engine or "", cfg,
                     lambda: CachedEngine(load_engine(cfg.engine, **cfg.option_dict()), _cache(cfg)))
    checker, source, target = _checker(cfg)
    model = engine.identity().get("model") or cfg.engine

    def run(batch: list[Record]) -> list[Record]:
        # every record's question and answer in one call (one stream through the engine's window); records
        # whose texts fail a check are sent again, together, with the next prompt variant
        done: dict[int, tuple[list[str], int]] = {}
        problems: dict[int, list[str]] = {}
        todo = list(range(len(batch)))
        for variant in range(cfg.retries + 1):
            if not todo:
                break
            texts = [t for i in todo for t in (batch[i]["question"], batch[i]["answer"])]
            translated, _ = translate_texts(engine, texts, source, target, variant=variant)
            still = []
            for n, i in enumerate(todo):
                pair = translated[2 * n:2 * n + 2]
                problems[i] = [f"{name}: {p}" for name, src, tgt in
                               zip(("question", "answer"), (batch[i]["question"], batch[i]["answer"]), pair)
                               for p in _errors(checker, src, tgt, target)]
                if problems[i]:
                    still.append(i)
                else:
                    done[i] = (pair, variant)
            todo = still
        out = []
        for i, record in enumerate(batch):
            if i not in done:
                out.append(reject(record, "; ".join(problems[i]), step="translate"))
                continue
            (question, answer), variant = done[i]
            texts = [record["question"], record["answer"]]
            out.append({**record, "question": question, "answer": answer, "model": model,
                        "prompt_id": engine.prompt_id(variant),
                        "babelvl_tokens_est": sum(len(t) for t in texts + [question, answer]) // 4})
        return out

    return run


# --- Cap: write a caption from transcripts --------------------------------------------------------------

def _numbered(transcripts: list[str]) -> str:
    return "\n".join(f"{i}. {t.strip()}" for i, t in enumerate(transcripts, 1))


def _generation_step(cfg: RecipeConfig, make_prompt: Callable[[Record, LanguagePack], str],
                     accept: Callable[[Record, str, Any, LanguagePack], tuple[dict[str, Any] | None, str | None]],
                     prompt_key: str, step_name: str) -> Callable[[list[Record]], list[Record]]:
    from babelvl.models import CachedBackend, GenerationSettings, Request, load_backend

    backend = _shared("generator", cfg.generator or "", cfg, lambda: CachedBackend(
        load_backend(cfg.generator, **cfg.option_dict(backend=True)), _cache(cfg)))
    checker, _, target = _checker(cfg, skip=CHAT_CHECK_SKIPS)
    model = backend.identity().get("model") or cfg.generator

    def run(batch: list[Record]) -> list[Record]:
        results: list[Record | None] = [None] * len(batch)
        reasons: dict[int, str] = {}
        todo = list(range(len(batch)))
        for attempt in range(cfg.retries + 1):
            if not todo:
                break
            # a retry samples a different answer (seeded, so reruns are identical)
            settings = GenerationSettings(max_new_tokens=cfg.max_new_tokens, temperature=0.0 if attempt == 0 else 0.7,
                                          seed=attempt)
            prompts = [make_prompt(batch[i], target) for i in todo]
            requests = (Request(prompt=p, images=(Path(batch[i]["image_path"]).read_bytes(),) if cfg.with_image else ())
                        for i, p in zip(todo, prompts))  # read lazily: images are read as the window has room
            still = []
            # answers as they complete, through the backend's window (cached as each returns)
            for n, text in backend.generate_stream(requests, settings):
                i, prompt = todo[n], prompts[n]
                fields, problem = accept(batch[i], text, checker, target)
                if fields is None:
                    reasons[i] = problem or "rejected"
                    still.append(i)
                    continue
                results[i] = {**batch[i], **fields, "model": model, "prompt_id": f"{prompt_key}-a{attempt}",
                              "babelvl_tokens_est": (len(prompt) + len(text)) // 4}
            todo = sorted(still)  # the same order whatever order the answers came in
        return [results[i] if results[i] is not None else reject(batch[i], reasons[i], step=step_name)
                for i in range(len(batch))]

    return run


def _cap_prompt(record: Record, target: LanguagePack) -> str:
    return target.extra["pixmo"]["caption_prompt"].format(transcripts=_numbered(record["transcripts"]))


def _cap_accept(record: Record, text: str, checker: Any, target: LanguagePack) -> tuple[dict[str, Any] | None, str | None]:
    caption = text.strip()
    source = " ".join(record["transcripts"])
    problems = _errors(checker, source, caption, target)
    return (None, "; ".join(problems)) if problems else ({"caption": caption}, None)


def _answer_accept(record: Record, text: str, checker: Any, target: LanguagePack) -> tuple[dict[str, Any] | None, str | None]:
    answer = text.strip()
    problems = _errors(checker, record["question"], answer, target)
    return (None, "; ".join(problems)) if problems else ({"answer": answer}, None)


# --- CoSyn: regenerate QA pairs from code and data -------------------------------------------------------

_JSON_LIST = re.compile(r"\[.*\]", re.S)


def _cosyn_prompt(record: Record, target: LanguagePack) -> str:
    return target.extra["pixmo"]["cosyn_qa_prompt"].format(code=record.get("code") or "", data=record.get("data") or "",
                                                           n=max(1, len(record.get("qa_pairs") or [])))


def parse_qa_pairs(text: str) -> list[dict[str, str]] | None:
    """The model's JSON list of {question, explanation, answer}; None if it is not one."""
    match = _JSON_LIST.search(text)
    if not match:
        return None
    try:
        value = json.loads(match.group(0))
    except json.JSONDecodeError:
        return None
    if not isinstance(value, list) or not value:
        return None
    pairs = []
    for item in value:
        if not isinstance(item, dict) or not str(item.get("question", "")).strip() or not str(item.get("answer", "")).strip():
            return None
        pairs.append({"question": str(item["question"]).strip(), "explanation": str(item.get("explanation") or "").strip(),
                      "answer": str(item["answer"]).strip()})
    return pairs


def _cosyn_accept(record: Record, text: str, checker: Any, target: LanguagePack) -> tuple[dict[str, Any] | None, str | None]:
    pairs = parse_qa_pairs(text)
    if pairs is None:
        return None, "model output is not a JSON list of question/explanation/answer objects"
    joined_questions = " ".join(p["question"] for p in pairs)
    problems = _errors(checker, joined_questions, joined_questions, target)
    return (None, "; ".join(problems)) if problems else ({"qa_pairs": pairs}, None)


# --- CoSyn image localization: translate visible strings, re-render in the sandbox ------------------------

def _localize_step(cfg: RecipeConfig) -> Callable[[list[Record]], list[Record]]:
    """Translate the plot's visible strings (code and data) and re-render it in the sandbox; the original
    image is kept, with the reason, when rendering fails or no renderer fits the code."""
    from babelvl.pixmo.localize import (extract_data_strings, extract_strings, replace_data_strings,
                                        replace_strings)
    from babelvl.pixmo.renderers import render_or_keep, renderer_for
    from babelvl.translate.engines import CachedEngine, load_engine
    from babelvl.translate.texts import translate_texts

    engine = CachedEngine(load_engine(cfg.engine, **cfg.option_dict()), _cache(cfg))
    source, target = load_language(cfg.source_language), load_language(cfg.target)

    def run(batch: list[Record]) -> list[Record]:
        out = []
        for record in batch:
            code, data = record.get("code") or "", record.get("data")
            original = (record.get("image") or {}).get("bytes")
            renderer = renderer_for({"code": code, "data": data})
            if renderer is None or original is None:
                out.append({**record, "render_note": "kept original: no renderer for this code"})
                continue
            try:
                texts = sorted({s.value for s in extract_strings(code, data=data)} |
                               ({s.value for s in extract_data_strings(data, code=code)} if data else set()))
                translated, _ = translate_texts(engine, texts, source, target)
                mapping = dict(zip(texts, translated))
                new_code = replace_strings(code, mapping, data=data)
                new_data = replace_data_strings(data, mapping, code=code) if data else data
            except Exception as exc:  # a script the localizer cannot parse keeps its image, with the reason
                out.append({**record, "render_note": f"kept original: {type(exc).__name__}: {exc}"})
                continue
            image, reason = render_or_keep(original, new_code, new_data, renderer)
            out.append({**record, "image": {"bytes": image, "path": None},
                        "code": new_code if reason is None else code, "data": new_data if reason is None else data,
                        "render_note": "re-rendered" if reason is None else f"kept original: {reason}"})
        return out

    return run


# --- registry ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Recipe:
    name: str
    source: str
    needs: str
    """"engine" (translation) or "generator" (a model that writes)."""
    output_columns: tuple[str, ...]
    """Columns of the released set's schema, in order (provenance columns follow)."""
    calls_per_row: int


RECIPES = {
    "ama": Recipe("ama", "pixmo-ask-model-anything", "engine", ("image_url", "image_sha256", "question", "answer"), 2),
    "cap": Recipe("cap", "pixmo-cap", "generator", ("image_url", "caption", "transcripts"), 1),
    "cosyn": Recipe("cosyn", "cosyn-400k", "generator", ("id", "image", "qa_pairs", "metadata", "data", "code"), 1),
}


def recipe_pipeline(name: str, cfg: RecipeConfig) -> Pipeline:
    """The declared pipeline of a recipe for one target language."""
    extra: list[Step] = []
    if name == "ama":
        step = Step("translate", lambda: _ama_step(cfg), kind="model", batch_size=cfg.batch_size)
        if cfg.regenerate_answers:
            extra.append(Step("answer", lambda: _generation_step(cfg, lambda r, t: r["question"], _answer_accept,
                                                                 "ama-answer-p1", "answer"),
                              kind="model", batch_size=cfg.batch_size))
    elif name == "cap":
        step = Step("caption", lambda: _generation_step(cfg, _cap_prompt, _cap_accept, "caption-p1", "caption"),
                    kind="model", batch_size=cfg.batch_size)
    elif name == "cosyn":
        step = Step("qa", lambda: _generation_step(cfg, _cosyn_prompt, _cosyn_accept, "cosyn-qa-p1", "qa"),
                    kind="model", batch_size=cfg.batch_size)
    else:
        raise KeyError(name)
    steps = [step, *extra]
    if name == "cosyn" and cfg.localize_images:
        steps.append(Step("localize", lambda: _localize_step(cfg), kind="model", batch_size=4))
    return Pipeline(f"multi-pixmo-{name}-{cfg.target}", steps)
