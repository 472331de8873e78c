"""Speed of the agreement statistics with vectorised bootstrap intervals.

Times each measure (point estimate + ``bootstrap_ci``) and then ``agreement_table`` with every measure,
all four Krippendorff alpha levels and the bootstrap, on random ratings: 10,000 items x 5 raters on a
1-5 scale with ~10% missing. Target: the table under 10 s on 2 CPU cores.

    python benchmarks/agreement_speed.py [--items 10000] [--raters 5] [--draws 1000] [--missing 0.1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from babelvl.quality.agreement import FAST_STATISTICS, LEVELS, MEASURES, agreement_table, bootstrap_ci

LABELS = [1, 2, 3, 4, 5]


def random_ratings(items: int, raters: int, missing: float, seed: int = 0) -> np.ndarray:
    """Ratings that agree a little: a latent score per item plus rater noise, some cells left empty."""
    rng = np.random.default_rng(seed)
    latent = rng.integers(1, 6, size=(items, 1))
    ratings = np.clip(latent + rng.integers(-1, 2, size=(items, raters)), 1, 5).astype(float)
    ratings[rng.random(ratings.shape) < missing] = np.nan
    return ratings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--raters", type=int, default=5)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--missing", type=float, default=0.1)
    args = parser.parse_args()
    R = random_ratings(args.items, args.raters, args.missing)
    print(f"{args.items} items x {args.raters} raters, {np.isnan(R).mean():.1%} missing, {args.draws} draws")

    print(f"{'measure':30s} {'value':>8s} {'95% CI':>20s} {'seconds':>8s}")
    separate = 0.0
    for name in FAST_STATISTICS:
        start = time.perf_counter()
        value = MEASURES[name](R, labels=LABELS)
        lo, hi = bootstrap_ci(R, name, labels=LABELS, draws=args.draws)
        took = time.perf_counter() - start
        separate += took
        print(f"{name:30s} {value:8.4f} {f'[{lo:.4f}, {hi:.4f}]':>20s} {took:8.2f}")
    print(f"{'sum of separate calls':30s} {'':8s} {'':>20s} {separate:8.2f}")

    start = time.perf_counter()
    table = agreement_table(R, labels=LABELS, level=LEVELS, draws=args.draws)
    total = time.perf_counter() - start
    print(f"agreement_table (all {len(table['measures'])} measures, shared resamples): {total:.2f} s "
          f"(target < 10 s)")


if __name__ == "__main__":
    main()
