"""``babelvl build-pixmo``: a PixMo source in, the same set regenerated in N languages out.

One pipeline definition per recipe (``recipes.py``), run by the local or the Ray Data executor over
shards of the source rows. Output: ``OUT/<lang>/shard-*.parquet`` in the released sets' schema plus
provenance columns, ``OUT/<lang>/rejects/*.jsonl`` with a reason per rejected row, ``OUT/README.md``
(dataset card with every license), ``OUT/build.json`` (rows kept and rejected, token estimate) and
``OUT/run-log.jsonl`` (each run's model calls and time). For every language, rows in = rows out + rejects.
A killed build started again skips finished shards and replays model calls of unfinished ones from the
cache; its folder ends byte-identical to an uninterrupted build's, except the run log and the cache.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from babelvl import ui
from babelvl import __version__
from babelvl.data.card import Card, ModelUse
from babelvl.errors import InputError
from babelvl.io.files import local_path_or_none, remove_stale_temporaries, run_file_path, write_atomic, write_json_atomic
from babelvl.io.runlog import RUN_LOG, append_run_log
from babelvl.languages import load_language
from babelvl.pipeline import Pipeline, Step, reject
from babelvl.pipeline.executors import get_executor
from babelvl.pipeline.shards import Shard, make_shards
from babelvl.pipeline.steps import Record
from babelvl.pixmo.recipes import RECIPES, RecipeConfig, recipe_pipeline
from babelvl.pixmo.sources import Rejected, SourceRecord, get_source, load_source

PROVENANCE = ("source_id", "source_row", "language", "model", "prompt_id", "babelvl_tokens_est", "render_note")


@dataclass
class BuildSpec:
    recipe: str
    languages: list[str]
    out_dir: Path
    data: str | None = None
    config: str | None = None
    split: str | None = None
    engine: str | None = None
    generator: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    executor: str = "local"
    workers: int = 1
    ray_address: str | None = None
    shard_size: int = 256
    limit: int | None = None
    cache_path: Path | None = None
    max_new_tokens: int = 512
    retries: int = 1
    caption_mode: str = "text"
    """Cap: "text" (a text-only LLM writes from the transcripts) or "vlm" (transcripts plus the image)."""
    regenerate_answers: bool = False
    """AMA: a VLM (--generator) rewrites each answer from the image after the question is translated."""
    localize_images: bool = False
    """CoSyn: translate the plot's visible strings (--engine) and re-render it in the sandbox."""
    fetch_images: bool = False
    """Download and verify every image URL (sha256 where given); failed rows go to the rejects."""
    mirror: Path | None = None
    with_source_language: bool = True
    """Also write ``en``, the source texts as they are (no model call), so an English-only training
    mixture can be drawn from the same build."""


def build_languages(spec: BuildSpec) -> list[str]:
    """``spec.languages``, with the source language ``en`` first unless asked not to."""
    if spec.with_source_language and "en" not in spec.languages:
        return ["en", *spec.languages]
    return list(spec.languages)


def _check_fetch_resume(spec: BuildSpec, out: Path) -> None:
    """Refuse ``--fetch-images`` over a build made without it: resume would skip its shards and fetch nothing."""
    previous = out / "build_spec.json"
    if not spec.fetch_images or spec.recipe == "cosyn" or not previous.is_file():
        return
    before = json.loads(previous.read_text(encoding="utf-8"))
    fetched = before.get("fetch_images") or before.get("caption_mode") == "vlm" or before.get("regenerate_answers")
    if not fetched and any(out.glob("*/shard-*.parquet")):
        raise InputError(f"{out} was built without --fetch-images; its finished shards are skipped when a build "
                         "resumes, so no image would be fetched. Build into a new folder, which replays this "
                         f"build's model calls from its cache: --fetch-images --cache {out / 'cache.sqlite'} "
                         "--out NEW_FOLDER", file=str(previous), field="fetch_images")


def _record_of(obj: SourceRecord | Rejected, language: str) -> Record:
    if isinstance(obj, Rejected):
        return reject({"source_row": obj.row, "language": language, "field": obj.field},
                      f"{obj.field}: {obj.reason}" if obj.field else obj.reason, step="source")
    base = {"source_id": obj.id, "source_row": obj.row, "language": language}
    if obj.source == "pixmo-ask-model-anything":
        return {**base, "image_url": obj.image_url, "image_sha256": obj.image_sha256, **obj.fields}
    if obj.source == "pixmo-cap":
        return {**base, "image_url": obj.image_url, **obj.fields}
    return {**base, "id": obj.id, "image": {"bytes": obj.image, "path": None}, **obj.fields}


def _fetch_step(cache_dir: Path, mirror: Path | None) -> Step:
    def make():
        from babelvl.pixmo.fetch import FetchRequest, ImageFetcher

        fetcher = ImageFetcher(cache_dir, mirror=mirror)

        def fn(batch: list[Record]) -> list[Record]:
            results = fetcher.fetch_many([FetchRequest(r["image_url"], r.get("image_sha256")) for r in batch])
            return [{**r, "image_path": str(res.path)} if res.ok
                    else reject(r, f"{res.reason or 'failed'} ({res.error})", step="fetch")
                    for r, res in zip(batch, results)]

        return fn

    return Step("fetch", make, batch_size=32)


def _source_step() -> Step:
    def make():
        return lambda batch: [{**r, "model": "source", "prompt_id": None, "babelvl_tokens_est": 0} for r in batch]

    return Step("source", make, batch_size=256)


def _finalize_step(columns: tuple[str, ...]) -> Step:
    keep = columns + PROVENANCE

    def make():
        return lambda batch: [{k: r.get(k) for k in keep} for r in batch]

    return Step("finalize", make, batch_size=256)


#: shards in progress at once on the local executor when the model is served: they share one window of
#: ``--concurrency`` requests (no extra server load), and while one shard waits for its slowest answers or is
#: written, the others keep the window full
SERVED_SHARD_WORKERS = 4


def _workers(spec: BuildSpec) -> int:
    from babelvl.pixmo.recipes import served

    if spec.executor == "local" and (served(spec.generator) or served(spec.engine)):
        return max(spec.workers, SERVED_SHARD_WORKERS)
    return spec.workers


def _check_spec(spec: BuildSpec) -> None:
    recipe = RECIPES.get(spec.recipe)
    if recipe is None:
        raise InputError(f"unknown recipe/source '{spec.recipe}' (known: {', '.join(RECIPES)})")
    need = spec.engine if recipe.needs == "engine" else spec.generator
    if spec.localize_images and not (spec.recipe == "cosyn" and spec.engine):
        raise InputError("--localize-images is for the cosyn recipe and needs --engine to translate the strings")
    if spec.regenerate_answers and not (spec.recipe == "ama" and spec.generator and spec.engine):
        raise InputError("--regenerate-answers is for the ama recipe and needs --engine (question) and "
                         "--generator (a VLM that answers from the image)")
    if spec.caption_mode not in ("text", "vlm"):
        raise InputError(f"--caption-mode must be text or vlm, got {spec.caption_mode!r}")
    if not need:
        flag = "--engine" if recipe.needs == "engine" else "--generator"
        raise InputError(f"the {spec.recipe} recipe needs {flag} (a {'translation engine' if flag == '--engine' else 'model that writes text'})")
    for code in spec.languages:
        pack = load_language(code)
        if code != "en" and recipe.needs == "generator" and "pixmo" not in pack.extra:
            raise InputError(f"language pack '{code}' has no pixmo prompts", file=pack.source, field="pixmo")


def dry_run(spec: BuildSpec) -> dict[str, Any]:
    """Rows, model calls and tokens the build would spend, estimated from the first rows, without a model."""
    _check_spec(spec)
    recipe = RECIPES[spec.recipe]
    loaded = load_source(recipe.source, spec.data, config=spec.config, split=spec.split, limit=spec.limit)
    sample = []
    for obj in loaded.source.iter_records(loaded.rows.select(range(min(50, len(loaded)))), file=loaded.file):
        if isinstance(obj, SourceRecord):
            sample.append(sum(len(json.dumps(v, ensure_ascii=False)) for k, v in obj.fields.items() if k != "image"))
    per_row_chars = (sum(sample) / len(sample)) if sample else 0.0
    prompt_chars = 600 if recipe.needs == "generator" else 0
    tokens_per_call = (per_row_chars / recipe.calls_per_row + prompt_chars) / 4 * 2  # input + similar output
    rows = len(loaded)
    calls = rows * recipe.calls_per_row * len([c for c in spec.languages if c != "en"])  # English is copied
    return {"recipe": spec.recipe, "rows": rows, "languages": spec.languages, "model_calls": calls,
            "tokens_estimate": int(calls * tokens_per_call),
            "note": "upper bound: translation engines de-duplicate segments and the cache answers repeats"}


def run_build(spec: BuildSpec, *, console: Console | None = None) -> dict[str, Any]:
    _check_spec(spec)
    console = console or ui.console()
    recipe = RECIPES[spec.recipe]
    loaded = load_source(recipe.source, spec.data, config=spec.config, split=spec.split, limit=spec.limit)
    out = spec.out_dir
    _check_fetch_resume(spec, out)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out)  # left by a killed run
    cache_path = spec.cache_path or out / "cache.sqlite"
    # paths relative to this folder or absolute (io.files.run_file_path), so a moved folder still describes itself
    write_json_atomic(out / "build_spec.json", {**asdict(spec), "out_dir": ".",
                                                "cache_path": run_file_path(cache_path, out),
                                                "data_path": local_path_or_none(spec.data),
                                                "mirror": run_file_path(spec.mirror, out) if spec.mirror else None})
    from babelvl.models import ResponseCache

    calls_before = len(ResponseCache(cache_path))
    shards = make_shards(len(loaded), spec.shard_size)
    executor = get_executor(spec.executor, workers=_workers(spec), ray_address=spec.ray_address)
    started = time.perf_counter()
    per_language: dict[str, Any] = {}
    skipped: dict[str, int] = {}
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console) as progress:
        for code in build_languages(spec):
            cfg = RecipeConfig(target=code, engine=spec.engine, generator=spec.generator,
                               options=tuple(sorted(spec.options.items())), cache_path=str(cache_path),
                               max_new_tokens=spec.max_new_tokens, retries=spec.retries,
                               batch_size=spec.shard_size, localize_images=spec.localize_images,
                               with_image=spec.caption_mode == "vlm" or spec.regenerate_answers,
                               regenerate_answers=spec.regenerate_answers)
            if code == "en":  # the source language: the original texts, as they are (a complete released set)
                pipeline = Pipeline(f"multi-pixmo-{spec.recipe}-source", [_source_step()])
            else:
                pipeline = recipe_pipeline(spec.recipe, cfg)
            needs_images = spec.caption_mode == "vlm" or spec.regenerate_answers
            if (spec.fetch_images or needs_images) and spec.recipe != "cosyn":  # CoSyn embeds its images
                pipeline.steps.insert(0, _fetch_step(out / "images", spec.mirror))
            pipeline.steps.append(_finalize_step(recipe.output_columns))
            task = progress.add_task(f"{spec.recipe} → {code}", total=len(loaded))

            def load_shard(shard: Shard, code: str = code) -> list[Record]:
                # rows numbered, and duplicate ids found, exactly as one pass over the source would
                return [_record_of(obj, code) for obj in loaded.iter_range(shard.start, shard.stop)]

            summary = executor.run(pipeline, load_shard, shards, out / code,
                                   on_shard=lambda shard, n, t=task: progress.advance(t, n))
            progress.update(task, completed=len(loaded))
            per_language[code] = _language_totals(out / code, len(loaded))
            skipped[code] = summary.shards_skipped
    seconds = time.perf_counter() - started
    calls = len(ResponseCache(cache_path)) - calls_before
    # build.json and the card describe the data (the same bytes after a kill and a resume); what this run cost
    # goes to the run log
    result = {"babelvl_version": __version__, "recipe": spec.recipe, "source": loaded.file,
              "rows": len(loaded), "languages": per_language,
              "tokens_estimate": sum(v["tokens_estimate"] for v in per_language.values()), "run_log": RUN_LOG}
    write_json_atomic(out / "build.json", result)
    _write_card(spec, loaded, out, result)
    run = append_run_log(out, "build-pixmo", {"model_calls": calls, "seconds": round(seconds, 3),
                                              "shards_skipped": skipped, "executor": spec.executor,
                                              "workers": _workers(spec)})
    result = {**result, "run": run}
    console.print(f"[green]done[/green]: {len(loaded)} rows x {len(per_language)} languages, "
                  f"{sum(v['kept'] for v in per_language.values())} kept, "
                  f"{sum(v['rejected'] for v in per_language.values())} rejected, {calls} model calls, "
                  f"~{result['tokens_estimate']} tokens, {seconds:.1f}s")
    return result


def _language_totals(folder: Path, rows_in: int) -> dict[str, Any]:
    """Counts from what is on disk (so a resumed build reports the whole build, not just its own part)."""
    kept, tokens = 0, 0
    for path in sorted(folder.glob("shard-*.parquet")):
        table = pq.read_table(path, columns=None)
        kept += table.num_rows
        if "babelvl_tokens_est" in table.column_names:
            tokens += sum(v or 0 for v in table.column("babelvl_tokens_est").to_pylist())
    reasons: dict[str, int] = {}
    rejected = 0
    for path in sorted((folder / "rejects").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rejected += 1
                reason = json.loads(line).get("_babelvl_reject", "").split(":")[0]
                reasons[reason] = reasons.get(reason, 0) + 1
    if kept + rejected != rows_in:
        raise RuntimeError(f"{folder}: {kept} kept + {rejected} rejected != {rows_in} rows in")
    return {"kept": kept, "rejected": rejected, "rejects_by_step": reasons, "tokens_estimate": tokens}


def _write_card(spec: BuildSpec, loaded: Any, out: Path, result: dict[str, Any]) -> None:
    recipe = RECIPES[spec.recipe]
    model_spec = spec.engine if recipe.needs == "engine" else spec.generator
    license = spec.options.get("license") or "unknown (pass --license)"
    low = bool(model_spec and model_spec.startswith("gguf:"))
    counts = "\n".join(f"- {lang}: {v['kept']} rows, {v['rejected']} rejected ({v['rejects_by_step']})"
                       for lang, v in result["languages"].items())
    languages = build_languages(spec)
    card = Card(title=f"Multi-PixMo {recipe.source} ({', '.join(languages)}, babelvl)",
                languages=languages, split=loaded.split or "train", source=loaded.file,
                source_license=get_source(recipe.source).license,
                models=[ModelUse("translation engine" if recipe.needs == "engine" else "text generator",
                                 {"model": model_spec}, "Gemma Terms of Use" if low else license, low)],
                created=datetime.now(timezone.utc).strftime("%Y-%m-%d"), babelvl_version=__version__,
                sections=[("Schema", f"Columns: {', '.join(recipe.output_columns)}; provenance: {', '.join(PROVENANCE)}."),
                          ("Build", f"{counts}\n- tokens (estimate): {result['tokens_estimate']}")])
    card.configs_glob = "shard-*.parquet"
    card.without_data = tuple(lang for lang, v in result["languages"].items() if not v["kept"])
    write_atomic(out / "README.md", card.render())


def push_to_hub(out_dir: Path, repo_id: str, *, private: bool = True) -> None:
    """Upload a finished build (parquet shards + card) as a Hub dataset repo, one config per language.

    Not exercised offline; uses huggingface_hub's ``upload_folder`` (needs ``HF_TOKEN``).
    """
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=str(out_dir),
                      allow_patterns=["README.md", "*/shard-*.parquet"])
