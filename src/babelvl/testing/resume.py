"""Kill a server-backed job with SIGKILL, start it again, and compare its output folder with a straight run's.

Used by the resume tests and by ``benchmarks/kill_resume.py``. Each job runs as a user runs it, through the
``babelvl`` command line in a child process, against the loopback model server (``FakeVLMServer`` with the demo
responder: a test double for a remote model server). The kill comes when the server has received a chosen number
of requests, so it lands anywhere: mid-stream, between shards, while files are written. After the resumed run,
every file of the output folder must have the same bytes as in the uninterrupted run, except the run log
(``run-log.jsonl``) and the cache file (``cache.sqlite`` and SQLite's ``-wal``/``-shm`` companions).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

JOBS = ("translate", "build-pixmo", "eval")
#: the only files allowed to differ between an interrupted and an uninterrupted run
MAY_DIFFER = ("run-log.jsonl", "cache.sqlite", "cache.sqlite-*")
WORDS = ("red", "blue", "green", "cat", "dog", "car", "thing", "picture", "image", "color")


def tag(i: int) -> str:
    """A distinct word per row (digits would be masked as placeholders and de-duplicated)."""
    return "".join(chr(97 + (i // 26 ** k) % 26) for k in range(4))


def write_job_inputs(folder: Path, rows: int, *, text_rows: int | None = None) -> dict[str, Path]:
    """Inputs in the real schemas: free texts (translate; ``text_rows`` of them, default ``rows``), PixMo-Cap
    (build-pixmo) and POPE (eval), ``rows`` each. Used by the resume tests and the server benchmarks."""
    from babelvl.testing.fixtures import write_pope
    from babelvl.testing.pixmo_fixtures import cap_rows, write_cap

    folder.mkdir(parents=True, exist_ok=True)
    texts = folder / "texts.parquet"
    questions = [f"What {WORDS[i % 10]} is the {WORDS[(i // 10) % 10]} {tag(i)} in this picture?"
                 for i in range(rows if text_rows is None else text_rows)]
    pq.write_table(pa.table({"id": [str(i) for i in range(len(questions))], "question": questions}), texts)
    cap = write_cap(folder / "cap.parquet", "http://127.0.0.1:9/", cap_rows("http://127.0.0.1:9/", rows))
    splits = ("adversarial", "popular", "random")
    pope = write_pope(folder / "pope.parquet", [
        {"id": str(i), "question_id": str(i), "question": f"Is there a {tag(i)} in the image?",
         "answer": "yes" if i % 2 else "no", "image_source": f"COCO_val2014_{i:012d}",
         "category": splits[i % 3]} for i in range(rows)])
    return {"translate": texts, "build-pixmo": cap, "eval": pope}


def job_argv(job: str, data: Path, out: Path, base_url: str, *, concurrency: int = 4) -> list[str]:
    """The command line of ``job`` (without ``babelvl``)."""
    server = ["--api-base", base_url, "--concurrency", str(concurrency), "--quiet"]
    if job == "translate":
        return ["translate", "--data", str(data), "--fields", "question", "--languages", "fr,de",
                "--engine", "openai:demo", "--out", str(out), *server]
    if job == "build-pixmo":
        return ["build-pixmo", "--recipe", "cap", "--data", str(data), "--languages", "fr,de",
                "--generator", "openai:demo", "--shard-size", "8", "--out", str(out), *server]
    if job == "eval":
        return ["eval", "--model", "openai:demo", "--data", f"pope={data}", "--benchmarks", "pope",
                "--languages", "en", "--out", str(out), *server]
    raise ValueError(f"unknown job {job!r}")


def _command(argv: list[str]) -> list[str]:
    return [sys.executable, "-m", "babelvl.cli", *argv]


def run_to_end(argv: list[str], *, timeout: float = 600) -> None:
    result = subprocess.run(_command(argv), capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if result.returncode != 0:
        raise RuntimeError(f"babelvl {' '.join(argv[:1])} failed ({result.returncode}):\n{result.stderr[-3000:]}")


def run_and_kill(argv: list[str], server: Any, after_requests: int, *, timeout: float = 600) -> bool:
    """Start the job and SIGKILL it once ``server`` has received ``after_requests`` more requests.

    Returns False when the job finished before the kill point (then nothing was interrupted).
    """
    start = server.calls
    child = subprocess.Popen(_command(argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + timeout
    try:
        while child.poll() is None:
            if server.calls - start >= after_requests:
                child.send_signal(signal.SIGKILL)
                child.wait(timeout=30)
                return True
            if time.monotonic() > deadline:
                raise TimeoutError(f"babelvl {argv[0]} ran past {timeout} s")
            time.sleep(0.002)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stderr is not None:
            child.stderr.close()
    if child.returncode != 0:
        raise RuntimeError(f"babelvl {argv[0]} failed ({child.returncode}) before the kill point")
    return False


def folder_digest(folder: Path) -> dict[str, str]:
    """relative path -> sha256 of the bytes, for every file except those allowed to differ."""
    digest = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if any(fnmatch.fnmatch(path.name, pattern) for pattern in MAY_DIFFER) and path.parent == folder:
            continue
        digest[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


def differences(expected: dict[str, str], got: dict[str, str]) -> list[str]:
    """What differs between two folder digests, one line per file."""
    lines = [f"missing: {p}" for p in sorted(set(expected) - set(got))]
    lines += [f"extra: {p}" for p in sorted(set(got) - set(expected))]
    lines += [f"different bytes: {p}" for p in sorted(set(expected) & set(got)) if expected[p] != got[p]]
    return lines
