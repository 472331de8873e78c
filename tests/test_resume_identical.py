"""A job killed with SIGKILL and started again ends with the same output folder, byte for byte, as a straight run
(except the run log and the cache file), and repeats at most the requests that were in flight."""

from __future__ import annotations

import json
import shutil

import pytest

from babelvl.testing.demo_responder import demo_answer
from babelvl.testing.openai_server import FakeVLMServer
from babelvl.testing.resume import (JOBS, differences, folder_digest, job_argv, run_and_kill, run_to_end,
                                    write_job_inputs)

ROWS = 24
CONCURRENCY = 4


@pytest.mark.slow
@pytest.mark.parametrize("job", JOBS)
def test_killed_and_resumed_output_equals_a_straight_run(job, tmp_path):
    inputs = write_job_inputs(tmp_path / "data", ROWS)
    with FakeVLMServer(demo_answer, delay=0.03) as server:
        out = tmp_path / "out"  # every run writes here (run files may name their own folder)
        argv = job_argv(job, inputs[job], out, server.base_url, concurrency=CONCURRENCY)
        run_to_end(argv)
        total = server.request_count
        expected = folder_digest(out)
        assert any(p.endswith(".parquet") or p.endswith(".jsonl") for p in expected) and total > 10
        kills = 0
        for kill_at in (1, total // 3, (2 * total) // 3):
            shutil.rmtree(out)
            server.reset_stats()
            killed = run_and_kill(argv, server, kill_at)
            sent_before_kill = server.calls
            run_to_end(argv)
            assert differences(expected, folder_digest(out)) == [], (job, kill_at)
            kills += killed
            if killed:
                # each answer is stored by the thread that received it: a kill repeats at most the requests that
                # were at the server (the --concurrency window)
                repeated = server.calls - total
                assert repeated <= CONCURRENCY, (job, kill_at, sent_before_kill, server.calls, total)
            runs = [json.loads(line) for line in (out / "run-log.jsonl").read_text().splitlines()]
            assert runs[-1]["job"] == job  # the resumed run logged what it cost; the dataset does not say
        assert kills >= 2  # the job really was interrupted
