"""What each part of the torch classifier's Newton–CG fit buys, in one run.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_probe_ablation.py [--n 10000]
        [--dim 384]

On ``bench_probe``'s synthetic embeddings (seven tasks, the 10-strength grid), fits the
classifiers as shipped, then with one part switched off at a time: the floor that zeroes
class probabilities below ``PROBABILITY_FLOOR`` in the float32 Hessian products (without
it they turn subnormal), and the Kronecker preconditioner of the conjugate gradients.
Prints the time, the Hessian products, the Newton steps, the
largest final gradient and how many held-out predictions differ from the shipped fit.
"""

from __future__ import annotations

import argparse
import contextlib
import time

import numpy as np

import sarl_hf.probing.softmax as softmax
from bench_probe import LEVELS, split, synthetic
from sarl_hf.probing.backends import torch_classify
from sarl_hf.probing.protocol import GRID


@contextlib.contextmanager
def counting():
    """Counts the Hessian products the fit asks for."""
    counts = {"products": 0}
    kept = softmax.softmax_hessian_product

    def counted(*args):
        counts["products"] += 1
        return kept(*args)

    softmax.softmax_hessian_product = counted
    try:
        yield counts
    finally:
        softmax.softmax_hessian_product = kept


@contextlib.contextmanager
def switched_off(part: str):
    if part == "subnormal floor":
        kept, softmax.PROBABILITY_FLOOR = softmax.PROBABILITY_FLOOR, 0.0
        restore = lambda: setattr(softmax, "PROBABILITY_FLOOR", kept)  # noqa: E731
    elif part == "preconditioner":
        kept = softmax.softmax_kronecker_preconditioner
        softmax.softmax_kronecker_preconditioner = lambda *_: (lambda r: r)
        restore = lambda: setattr(softmax, "softmax_kronecker_preconditioner", kept)  # noqa: E731
    else:
        restore = lambda: None  # noqa: E731
    try:
        yield
    finally:
        restore()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--dim", type=int, default=384)
    args = parser.parse_args(argv)
    embeddings, labels = split(*synthetic(args.n, args.dim, np.random.default_rng(0)), args.n)
    mean, std = embeddings["train"].mean(0), embeddings["train"].std(0)
    x = {s: (e - mean) / std for s, e in embeddings.items()}
    y = np.stack([labels["train"][t] for t in LEVELS], 1)
    print(f"{args.n} × {args.dim} embeddings, {len(LEVELS)} tasks, {len(GRID)} strengths "
          "(classifiers only)")
    shipped, reference = None, None
    for part in ("nothing", "subnormal floor", "preconditioner"):
        report = {}
        with switched_off(part), counting() as counts:
            start = time.perf_counter()
            predictions = torch_classify(x["train"], y, [x["validation"]], GRID,
                                         list(LEVELS.values()), report=report)
            seconds = time.perf_counter() - start
        held_out = np.stack([p[0] for p in predictions])
        if reference is None:
            shipped, reference, ratio = held_out, seconds, ""
        else:
            ratio = f"  ({seconds / reference:4.1f}× the shipped time)"
        print(f"  off: {part:16s} {seconds:7.1f} s{ratio}  products {counts['products']:5d}  "
              f"Newton steps {sum(report['steps']):3d}  gradient {max(report['gradient']):.1e}"
              f"  differing predictions {int((held_out != shipped).sum())} of {held_out.size}",
              flush=True)


if __name__ == "__main__":
    main()
