"""The probe protocol in torch against the scikit-learn grid a user would write.

    .venv/bin/python benchmarks/bench_probe.py [--n 20000] [--dim 768] [--device cpu]
        [--tasks azimuth,elevation,...] [--defaults]

Synthetic embeddings (n scenes split 60/20/20, ``dim`` features) carry the seven SARL
tasks' labels linearly, under noise, as a real encoder's layer would. Both backends run
the same protocol (standardise on train; softmax classifier and ridge regressor for each
of the 10 L2 strengths; select on validation; test metrics): torch as ``sarl_hf.probing.protocol``
does it, scikit-learn as the cross-check backend does, ``LogisticRegression(C=1/alpha,
solver="newton-cg", tol=1e-8)`` and ``Ridge(alpha)`` for each strength. Prints the time
of each (as each ends), the ratio, the selected strengths and the largest metric
difference. ``--defaults`` adds the grid as a user would write it, with scikit-learn's
defaults (L-BFGS, ``tol=1e-4``, ``max_iter=100``): faster, and not converged.
"""

from __future__ import annotations

import argparse
import contextlib
import time

import numpy as np

import sarl_hf.probing.backends as backends
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


def defaults_classify(x_train, y_train, evaluate, alphas, num_classes, **_):
    """The grid as a user would write it: ``LogisticRegression(C=1/alpha)`` with
    scikit-learn's defaults (L-BFGS, ``tol=1e-4``, ``max_iter=100``), per task and alpha."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    out = []
    for alpha in alphas:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            models = [LogisticRegression(C=1.0 / float(alpha)).fit(x_train, column)
                      for column in np.asarray(y_train).reshape(len(x_train), -1).T]
        out.append([np.stack([m.predict(e) for m in models], axis=1) for e in evaluate])
    return out


@contextlib.contextmanager
def sklearn_defaults():
    """The ``sklearn`` backend with :func:`defaults_classify` as its classifier."""
    kept = backends.sklearn_classify
    backends.sklearn_classify = defaults_classify
    try:
        yield
    finally:
        backends.sklearn_classify = kept


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
    parser.add_argument("--defaults", action="store_true",
                        help="also time LogisticRegression with scikit-learn's defaults")
    args = parser.parse_args(argv)
    tasks = [t for t in args.tasks.split(",") if t]
    rng = np.random.default_rng(0)
    embeddings, labels = split(*synthetic(args.n, args.dim, rng), args.n)
    results, seconds = {}, {}
    print(f"{args.n} × {args.dim} embeddings, {len(tasks)} tasks, {len(GRID)} L2 strengths, "
          f"device {args.device}", flush=True)
    runs = (("torch", "torch protocol", contextlib.nullcontext),
            ("sklearn", "scikit-learn grid", contextlib.nullcontext),
            ("defaults", "scikit-learn defaults", sklearn_defaults))
    for key, name, context in runs[:3 if args.defaults else 2]:
        start = time.perf_counter()
        with context():
            results[key] = probe(embeddings, labels, tasks=tasks,
                                 backend="torch" if key == "torch" else "sklearn",
                                 n_boot=args.n_boot, device=args.device, num_classes=LEVELS)
        seconds[key] = time.perf_counter() - start
        ratio = f"   ratio {seconds[key] / seconds['torch']:.1f}×" if key != "torch" else ""
        print(f"  {name:21s}  {seconds[key]:8.1f} s{ratio}", flush=True)
    print(f"{'task':10s} {'metric':20s} {'torch':>9s} {'sklearn':>9s}  alpha (torch / sklearn)")
    for name in tasks:
        a, b = results["torch"][name], results["sklearn"][name]
        for metric in TASKS[name].metrics:
            kind = "regression" if metric == TASKS[name].regression_metric else "classification"
            print(f"{name:10s} {metric:20s} {a[metric]:9.4f} {b[metric]:9.4f}  "
                  f"{a['alpha_' + kind]:.3g} / {b['alpha_' + kind]:.3g}")
    for key in [k for k in ("sklearn", "defaults") if k in results]:
        worst = max(abs(results["torch"][t]["accuracy"] - results[key][t]["accuracy"])
                    for t in tasks)
        differ = sum(results["torch"][t][a] != results[key][t][a] for t in tasks
                     for a in ("alpha_classification", "alpha_regression")
                     if a in results["torch"][t])
        print(f"largest accuracy difference, torch against {key}: {100 * worst:.2f} points; "
              f"strengths that differ: {differ}")


if __name__ == "__main__":
    main()
