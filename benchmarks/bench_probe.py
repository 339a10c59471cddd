"""The probe protocol in torch against the scikit-learn grid a user would write.

    .venv/bin/python benchmarks/bench_probe.py [--n 20000] [--dim 768] [--device cpu]
        [--tasks azimuth,elevation,...]

Synthetic embeddings (n scenes split 60/20/20, ``dim`` features) carry the seven SARL
tasks' labels linearly, under noise, as a real encoder's layer would. Both backends run
the same protocol (standardise on train; softmax classifier and ridge regressor for each
of the 10 L2 strengths; select on validation; test metrics): torch as ``sarl_hf.probing.protocol``
does it, scikit-learn as ``LogisticRegression(C=1/alpha)`` and ``Ridge(alpha)`` for each
strength. Prints the time of each, the ratio, the selected strengths and the largest
metric difference.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from sarl_hf.probing.protocol import GRID, probe
from sarl_hf.probing.tasks import TASKS

LEVELS = {"azimuth": 8, "elevation": 5, "distance": 4, "class": 12, "rt60": 5, "volume": 4,
          "shape": 4}


def synthetic(n: int, dim: int, rng: np.random.Generator):
    """Embeddings (n, dim) and labels of the seven tasks, linearly encoded under noise."""
    labels, parts = {}, []
    for name, k in LEVELS.items():
        level = rng.integers(0, k, n)
        labels[name] = level
        task = TASKS[name]
        if task.value == "azimuth_deg":
            value = (level * 45 + rng.uniform(-22.5, 22.5, n)) % 360
            parts.append(np.stack([np.sin(np.deg2rad(value)), np.cos(np.deg2rad(value))], 1))
        elif task.value is not None:
            value = (level + rng.uniform(0.1, 0.9, n)) * (10.0 if task.target == "log10" else 1)
            parts.append(np.log10(value)[:, None] if task.target == "log10" else value[:, None])
        else:
            parts.append(np.eye(k)[level])
            continue
        labels[task.value] = value
    signal = np.concatenate(parts, 1)
    mixing = rng.standard_normal((signal.shape[1], dim)) / np.sqrt(signal.shape[1])
    x = signal @ mixing + 1.5 * rng.standard_normal((n, dim))
    return x.astype(np.float32), labels


def split(x, labels, n):
    bounds = {"train": (0, int(0.6 * n)), "validation": (int(0.6 * n), int(0.8 * n)),
              "test": (int(0.8 * n), n)}
    embeddings = {s: x[a:b] for s, (a, b) in bounds.items()}
    columns = {s: {k: v[a:b] for k, v in labels.items()} for s, (a, b) in bounds.items()}
    return embeddings, columns


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument("--tasks", default=",".join(LEVELS), help="comma-separated tasks")
    args = parser.parse_args(argv)
    tasks = [t for t in args.tasks.split(",") if t]
    rng = np.random.default_rng(0)
    embeddings, labels = split(*synthetic(args.n, args.dim, rng), args.n)
    results, seconds = {}, {}
    for backend in ("torch", "sklearn"):
        start = time.perf_counter()
        results[backend] = probe(embeddings, labels, tasks=tasks, backend=backend,
                                 n_boot=args.n_boot, device=args.device, num_classes=LEVELS)
        seconds[backend] = time.perf_counter() - start
    print(f"{args.n} × {args.dim} embeddings, {len(tasks)} tasks, {len(GRID)} L2 strengths, "
          f"device {args.device}")
    print(f"  torch protocol      {seconds['torch']:8.1f} s")
    print(f"  scikit-learn grid   {seconds['sklearn']:8.1f} s   ratio "
          f"{seconds['sklearn'] / seconds['torch']:.1f}×")
    print(f"{'task':10s} {'metric':20s} {'torch':>9s} {'sklearn':>9s}  alpha (torch / sklearn)")
    for name in tasks:
        a, b = results["torch"][name], results["sklearn"][name]
        for metric in TASKS[name].metrics:
            kind = "regression" if metric == TASKS[name].regression_metric else "classification"
            print(f"{name:10s} {metric:20s} {a[metric]:9.4f} {b[metric]:9.4f}  "
                  f"{a['alpha_' + kind]:.3g} / {b['alpha_' + kind]:.3g}")
    worst = max(abs(results["torch"][t]["accuracy"] - results["sklearn"][t]["accuracy"])
                for t in tasks)
    print(f"largest accuracy difference: {100 * worst:.2f} points")


if __name__ == "__main__":
    main()
