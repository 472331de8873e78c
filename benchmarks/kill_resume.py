"""Kill -9 trials: is a killed and resumed job's output folder identical to an uninterrupted run's?

For each job (translate, build-pixmo, eval) the script makes one uninterrupted run, then ``--trials`` runs that
are killed with SIGKILL when the loopback model server (``FakeVLMServer`` with the demo responder, a test double
for a remote model server) has received a random number of requests, each resumed to the end by the same
command. A trial passes when every file of the output folder has the same bytes as in the uninterrupted run,
except the run log and the cache file (``babelvl.testing.resume.MAY_DIFFER``). It also reports how many requests
the resumed runs repeated (answers are cached as each returns, so at most the window: 3 x ``--concurrency``).
Issue #11's goal: 20 of 20 per job.

    python benchmarks/kill_resume.py [--trials 20] [--rows 24] [--concurrency 4] [--jobs translate,build-pixmo,eval]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from pathlib import Path

from babelvl.testing.demo_responder import demo_answer
from babelvl.testing.openai_server import FakeVLMServer
from babelvl.testing.resume import (JOBS, differences, folder_digest, job_argv, run_and_kill, run_to_end,
                                    write_job_inputs)


def trials(job: str, data: Path, work: Path, args: argparse.Namespace, rng: random.Random) -> dict:
    with FakeVLMServer(demo_answer, delay=args.delay) as server:
        out = work / f"out-{job}"
        argv = job_argv(job, data, out, server.base_url, concurrency=args.concurrency)
        run_to_end(argv)
        total = server.request_count
        expected = folder_digest(out)
        identical, killed, repeated, problems = 0, 0, [], []
        for trial in range(args.trials):
            shutil.rmtree(out)
            server.reset_stats()
            kill_at = rng.randint(1, max(1, total - 1))
            was_killed = run_and_kill(argv, server, kill_at)
            run_to_end(argv)
            diff = differences(expected, folder_digest(out))
            identical += not diff
            killed += was_killed
            repeated.append(server.calls - total)
            if diff:
                problems.append(f"trial {trial} (kill after {kill_at} requests): {'; '.join(diff[:5])}")
            print(f"  {job} trial {trial + 1}: kill after {kill_at}/{total} requests, "
                  f"{'identical' if not diff else 'DIFFERENT'}, {server.calls - total} repeated", flush=True)
    return {"job": job, "requests": total, "identical": identical, "killed": killed,
            "max_repeated": max(repeated), "problems": problems}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--rows", type=int, default=24)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--delay", type=float, default=0.03, help="seconds per request at the test server")
    parser.add_argument("--jobs", default=",".join(JOBS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = write_job_inputs(Path(tmp) / "data", args.rows)
        for job in args.jobs.split(","):
            rows.append(trials(job, inputs[job], Path(tmp), args, rng))
    print()
    print(f"| job | requests per run | trials identical (all files but run log and cache) | killed before the end "
          f"| most requests repeated (window: {3 * args.concurrency}) |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['job']} | {r['requests']} | {r['identical']}/{args.trials} | {r['killed']}/{args.trials} | "
              f"{r['max_repeated']} |")
    for r in rows:
        for problem in r["problems"]:
            print(f"{r['job']}: {problem}")
    return 0 if all(r["identical"] == args.trials for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
