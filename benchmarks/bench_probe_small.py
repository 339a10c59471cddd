"""Small probes: Newton steps against the L-BFGS fit they replaced.

    .venv/bin/python benchmarks/bench_probe_small.py [--rows 18,30,120] [--dims 65,278]

A tiny corpus's probe (a few dozen train rows, the size of a quick check or of the
tests) is near-separable at weak L2 strengths, where L-BFGS needs hundreds of steps;
Newton's steps need about five. For each size: the torch classifier fit over the
10-strength grid, seven tasks of eight classes, with Newton's steps (from the exact
Hessian where ``sarl_hf.probing.newton.fits_newton`` chooses it, else Newton–CG) and with
``solver="lbfgs"``, in the same run: time, total steps, largest final gradient, and
predictions that differ.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import sarl_hf.probing.backends as backends
from sarl_hf.probing.protocol import GRID


def _fit(x, y, held_out, solver: str):
    report = {}
    start = time.perf_counter()
    predictions = backends.torch_classify(x, y, [held_out], GRID, [8] * y.shape[1],
                                          report=report, solver=solver)
    return time.perf_counter() - start, report, predictions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="18,30,120")
    parser.add_argument("--dims", default="65,278")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'rows × dims':>12s} {'path':>7s} {'time':>8s} {'steps':>6s} {'gradient':>9s}")
    for rows in map(int, args.rows.split(",")):
        for dims in map(int, args.dims.split(",")):
            x = rng.standard_normal((rows, dims))
            x = (x - x.mean(0)) / x.std(0)
            y = rng.integers(0, 8, (rows, 7))
            y[:8] = np.arange(8)[:, None]
            held_out = rng.standard_normal((500, dims))
            fits = {}
            for newton in (True, False):
                seconds, report, predictions = _fit(x, y, held_out,
                                                    "newton" if newton else "lbfgs")
                fits[newton] = (seconds, predictions)
                rank = min(rows - 1, dims)  # principal axes with train variance
                path = ("exact" if backends.fits_newton(rows, rank, [8]) else "CG") \
                    if newton else "L-BFGS"
                print(f"{rows:5d} × {dims:4d} {path:>7s} {seconds:7.2f}s "
                      f"{sum(report['steps']):6d} {max(report['gradient']):9.1e}")
            differ = sum(int((a[0] != b[0]).sum()) for a, b in zip(fits[True][1], fits[False][1]))
            print(f"{'':12s} ratio {fits[False][0] / fits[True][0]:.1f}×, "
                  f"{differ} of {500 * 7 * len(GRID)} held-out predictions differ")


if __name__ == "__main__":
    main()
