"""Write an lmms-eval task folder for one benchmark in one language (``babelvl export --to lmms-eval``).

The folder ``OUT/babelvl_<benchmark>_<lang>/`` holds ``test.parquet`` (one row per babelvl item, source columns
plus ``babelvl_item``: the item's id, gold answer, options and babelvl's prompt as JSON), the task YAML and a
``utils.py``. The YAML follows lmms-eval's task format (``lmms_eval/api/task.py`` ``TaskConfig`` and
``ConfigurableTask.download``, EvolvingLMMs-Lab/lmms-eval @75571cf): ``dataset_path: parquet`` with
``dataset_kwargs.data_files`` pointing at the Parquet file, so lmms-eval loads local data through
``datasets.load_dataset`` and ``doc_id`` is the row of that file. ``utils.py`` imports babelvl (install it in
lmms-eval's environment) so ``process_results`` reads each answer with babelvl's parser and the item's language
pack, and each aggregation is babelvl's metric. Run it with
``lmms-eval --tasks babelvl_<benchmark>_<lang> --include_path OUT ...``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from babelvl.interop.lmms_eval import TASK_METRICS

#: babelvl eval's generation default (``--max-new-tokens``), so both harnesses let a model say as much.
MAX_NEW_TOKENS = 32

UTILS = '''"""lmms-eval task {task}: written by babelvl {version} (babelvl export --to lmms-eval). Do not edit.

Answers are read by babelvl's parser with the '{language}' language pack and scored with babelvl's {benchmark}
metrics, so these numbers equal `babelvl eval` / `babelvl score` on the same answers. Needs `pip install babelvl`
in lmms-eval's environment.
"""

import io
import json

PARSER = "babelvl"


def doc_to_visual(doc):
    from PIL import Image

    image = doc["image"]
    if isinstance(image, dict):  # a Parquet file read without image features: {{"bytes", "path"}}
        image = Image.open(io.BytesIO(image["bytes"]))
    return [image.convert("RGB")]


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    return json.loads(doc["babelvl_item"])["prompt"]


def doc_to_target(doc):
    return json.loads(doc["babelvl_item"])["answer"]


def process_results(doc, results):
    from babelvl.interop.lmms_eval import judge_payload

    record = judge_payload(doc["babelvl_item"], results[0], PARSER)
    return {{name: record for name in {metrics!r}}}


def _aggregate(results, metric):
    from babelvl.interop.lmms_eval import aggregate

    return aggregate(results, metric)
{aggregations}'''

AGGREGATION = '''

def aggregate_{metric}(results):
    return _aggregate(results, "{metric}")
'''


def task_name(benchmark: str, language: str) -> str:
    return f"babelvl_{benchmark}_{language}"


def _yaml(task: str, data_file: Path, metrics: list[str], meta: dict[str, Any]) -> str:
    """The task YAML. Written by hand: ``!function`` tags are lmms-eval's, not plain YAML a dumper emits."""
    lines = [f"# Written by babelvl export --to lmms-eval ({json.dumps(meta, ensure_ascii=False)}).",
             f"task: {task}",
             "dataset_path: parquet",
             "dataset_kwargs:",
             "  data_files:",
             f"    test: {json.dumps(str(data_file.resolve()))}",
             "test_split: test",
             "output_type: generate_until",
             "doc_to_visual: !function utils.doc_to_visual",
             "doc_to_text: !function utils.doc_to_text",
             "doc_to_target: !function utils.doc_to_target",
             "generation_kwargs:",
             f"  max_new_tokens: {MAX_NEW_TOKENS}",
             "  temperature: 0",
             "  top_p: 1.0",
             "  num_beams: 1",
             "  do_sample: false",
             "process_results: !function utils.process_results",
             "metric_list:"]
    for metric in metrics:
        lines += [f"  - metric: {metric}",
                  f"    aggregation: !function utils.aggregate_{metric}",
                  "    higher_is_better: true"]
    lines += ["metadata:", "  - version: 0.0"]
    return "\n".join(lines) + "\n"


def write_task(lset: Any, out: Path) -> dict[str, Any]:
    """Write the task folder for ``lset`` (a :class:`babelvl.interop.export.LanguageSet`) under ``out``."""
    from babelvl import __version__
    from babelvl.interop.export import item_rows
    from babelvl.interop.lmms_eval import item_payload
    from babelvl.io.files import write_atomic

    bench, language = lset.benchmark.name, lset.language
    task = task_name(bench, language)
    folder = out / task
    folder.mkdir(parents=True, exist_ok=True)
    rows = item_rows(lset)
    rows = rows.add_column("babelvl_item", [item_payload(item, prompt)
                                            for item, prompt in zip(lset.items, lset.prompts)])
    data_file = folder / "test.parquet"
    rows.to_parquet(str(data_file))
    metrics = list(TASK_METRICS[bench])
    meta = {"babelvl_version": __version__, "benchmark": bench, "language": language, "source": lset.source}
    write_atomic(folder / f"{task}.yaml", _yaml(task, data_file, metrics, meta))
    write_atomic(folder / "utils.py", UTILS.format(
        task=task, version=__version__, language=language, benchmark=bench, metrics=metrics,
        aggregations="".join(AGGREGATION.format(metric=m) for m in metrics)))
    return {"task": task, "folder": str(folder), "data_file": str(data_file), "metrics": metrics}
