"""The SARL linear-probe protocol.

For each task: standardise the features with the train split's statistics; fit a softmax
classifier on the nominal level and a ridge regressor on the exact value for every L2
strength of a fixed grid; choose the strength on the validation split (accuracy for
classification, the error for regression; ties go to the stronger penalty); report the
test metrics of the chosen models with bootstrap 95% intervals (fixed seed) and the chance
level (the most frequent train class; the train mean as the prediction).

``backend="torch"`` (CPU or GPU) is the implementation; ``backend="sklearn"`` is the
cross-check, with the same data, grid, selection and metrics.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_device, check_integer, check_memory, check_number
from ..splits import SPLITS
from .backends import backend_functions, principal_basis
from .mlp import HIDDEN as MLP_HIDDEN
from .mlp import mlp_classify, mlp_regress
from .tasks import TASK_NAMES, get_task

#: L2 strengths tried (scikit-learn's ``alpha``; ``C = 1 / alpha`` for the classifier).
GRID = tuple(float(a) for a in np.logspace(-2, 5, 10))
#: Version of the fits' implementation, part of the key of stored probe results: bump it
#: when a change can move the numbers a fit gives.
PROTOCOL_VERSION = 5  # 5: scores within TIE_TOL are ties; 4: Newton steps to GRAD_TOL
# everywhere; 3: per-task optimum (float64)
MODELS = ("linear", "mlp")


#: Fewest rows of a split: one row gives an accuracy of 0 or 1 with a zero-width interval.
MIN_SPLIT_ROWS = 2


def check_inputs(embeddings: dict, labels: dict) -> None:
    """Raise ValueError for missing splits, splits of fewer than MIN_SPLIT_ROWS rows, ragged,
    empty (dim 0), non-numeric or non-finite embeddings, or labels whose lengths differ
    from the embeddings'."""
    dims = set()
    for split in SPLITS:
        if split not in embeddings or split not in labels:
            raise ValueError(f"embeddings and labels need a {split!r} split")
        x = np.asarray(embeddings[split])
        if x.ndim != 2 or len(x) < MIN_SPLIT_ROWS or x.shape[1] == 0:
            raise ValueError(f"embeddings[{split!r}] must be an (n, dim) array with n >= "
                             f"{MIN_SPLIT_ROWS} rows and dim >= 1, got shape {x.shape}")
        if x.dtype.kind not in "iuf":
            raise ValueError(f"embeddings[{split!r}] must hold real numbers, got {x.dtype} "
                             "values")
        if not np.isfinite(x).all():
            raise ValueError(f"embeddings[{split!r}] holds NaN or infinite values")
        dims.add(x.shape[1])
        for column, values in labels[split].items():
            if len(values) != len(x):
                raise ValueError(f"labels[{split!r}][{column!r}] has {len(values)} rows, the "
                                 f"embeddings {len(x)}")
    if len(dims) > 1:
        raise ValueError(f"embeddings of the splits have different dims: {sorted(dims)}")


def check_options(grid, n_boot, seed, device: str, backend: str) -> tuple:
    """The grid as a tuple of floats, after refusing an empty grid, a strength that is not
    a finite number > 0, a resample count < 1, a negative or fractional seed and an
    unknown device."""
    if isinstance(grid, (str, bytes)) or not hasattr(grid, "__len__") or len(grid) == 0:
        raise ValueError(f"grid must be a non-empty sequence of L2 strengths > 0, got "
                         f"{grid!r}")
    grid = tuple(check_number("grid (L2 strengths)", a, 0, above_minimum=True) for a in grid)
    check_integer("n_boot", n_boot, 1)
    check_integer("seed", seed, 0)
    if backend == "torch":
        check_device(device)
    return grid


def class_labels(values, name: str) -> np.ndarray:
    """Class labels as int64: integers >= 0 (floats only when they are whole numbers);
    strings, fractions and negative labels are a ValueError naming ``name``."""
    array = np.asarray(values)
    if array.dtype.kind == "f":
        bad = array[~(np.isfinite(array) & (array == np.round(array)))]
    else:
        bad = array.ravel()[:1] if array.dtype.kind not in "iu" else array[:0]
    if bad.size:
        raise ValueError(f"{name} must be integer class labels >= 0, got {array.dtype} values "
                         f"(such as {bad[0].item()!r})")
    if array.size and array.min() < 0:
        raise ValueError(f"{name} must be integer class labels >= 0, got {array.min().item()}")
    return array.astype(np.int64)


def probe_memory(n_rows: int, dim: int, n_test: int, n_boot: int, num_classes) -> float:
    """Bytes a probe of one layer needs at its peak, at most: the standardised splits, the
    train features' eigendecomposition, the fits' weights, the bootstrap resamples and
    the resampled confusion matrices (float64)."""
    largest = max(num_classes)
    return 8 * (2 * n_rows * dim + 3 * dim * dim + 4 * dim * sum(num_classes)
                + 2 * n_boot * n_test + 2 * n_boot * largest * largest)


def standardise(train: np.ndarray, *others: np.ndarray):
    """(train, *others) standardised with the train mean and standard deviation."""
    mean = train.mean(0)
    std = train.std(0)
    std[std == 0] = 1.0
    return [(a - mean) / std for a in (train,) + others]


def standardised(embeddings: dict) -> dict:
    """The splits' embeddings (float64) standardised with the train statistics."""
    scaled = standardise(*(np.asarray(embeddings[s], dtype=np.float64) for s in SPLITS))
    return dict(zip(SPLITS, scaled))


def linear_options(backend: str, train: np.ndarray, device: str) -> dict:
    """Keyword options of a backend's linear fits: the torch backend gets its device and
    the train features' principal basis, shared by every fit of the layer."""
    if backend != "torch":
        return {}
    return {"device": device, "basis": principal_basis(train, device)}


def macro_f1(truth: np.ndarray, predicted: np.ndarray, num_classes: int) -> float:
    """Unweighted mean F1 over the classes present in ``truth`` or ``predicted``."""
    confusion = np.bincount(truth * num_classes + predicted,
                            minlength=num_classes * num_classes).reshape(num_classes, -1)
    tp = np.diag(confusion).astype(float)
    support, claimed = confusion.sum(1), confusion.sum(0)
    present = (support + claimed) > 0
    f1 = np.where(present, 2 * tp / np.maximum(support + claimed, 1), 0.0)
    return float(f1[present].mean())


def resamples(n: int, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap row indices (n_boot, n), the same for every metric of a task."""
    return np.random.default_rng(seed).integers(0, n, (n_boot, n))


#: Fewest test rows behind a bootstrap interval. Resamples of fewer rows take so few values
#: (a 2-row split gives 3 accuracies) that their percentiles say nothing about the metric.
MIN_INTERVAL_ROWS = 10


def interval_problem(n_rows: int, truth: np.ndarray | None = None) -> str | None:
    """Why a test split of ``n_rows`` rows (with class labels ``truth``, shape (n_rows,),
    for a classification) can carry no bootstrap interval; None when it can."""
    if n_rows < MIN_INTERVAL_ROWS:
        return f"{n_rows} test rows, fewer than the {MIN_INTERVAL_ROWS} an interval needs"
    if truth is not None and len(np.unique(truth)) < 2:
        return "the test split holds a single class"
    return None


def percentile_interval(stats: np.ndarray, problem: str | None = None) -> list | None:
    """The 95% percentile interval of bootstrap statistics; None when ``problem`` (see
    :func:`interval_problem`) says the resamples cannot carry one."""
    if problem is not None:
        return None
    low, high = np.percentile(stats, [2.5, 97.5])
    return [float(low), float(high)]


def interval_facts(n_rows: int, n_boot: int, problem: str | None) -> dict:
    """What stands behind a result's intervals: test rows, resamples and, when there is no
    interval, why."""
    facts = {"n_test": int(n_rows), "n_boot": int(n_boot)}
    if problem is not None:
        facts["no_interval"] = problem
    return facts


def macro_f1_resampled(truth, predicted, num_classes: int, index: np.ndarray) -> np.ndarray:
    """Macro-F1 of every resample (rows of ``index``), vectorised: (n_boot,)."""
    n_boot = len(index)
    codes = truth[index] * num_classes + predicted[index]
    codes += (np.arange(n_boot) * num_classes * num_classes)[:, None]
    confusion = np.bincount(codes.ravel(), minlength=n_boot * num_classes ** 2).reshape(
        n_boot, num_classes, num_classes)
    tp = np.diagonal(confusion, axis1=1, axis2=2).astype(float)
    both = confusion.sum(2) + confusion.sum(1)
    f1 = np.where(both > 0, 2 * tp / np.maximum(both, 1), 0.0)
    return f1.sum(1) / np.maximum((both > 0).sum(1), 1)


def chosen_alpha(scores) -> int:
    """Index of the grid value the protocol chooses from validation ``scores`` (higher is
    better): the best score; ties (``np.isclose``) go to the stronger penalty, the later
    value of the ascending grid."""
    scores = np.asarray(scores, dtype=np.float64)
    return int(np.flatnonzero(np.isclose(scores, scores.max()))[-1])


def regress_blocks(regress, data: dict, blocks: list, grid, options: dict) -> list:
    """Fit blocks of regression targets (each (n_train, k)) as one ridge problem.

    Returns, per block, per alpha, the (validation, test) predictions of its columns.
    """
    ends = np.cumsum([block.shape[1] for block in blocks])
    predictions = regress(data["train"], np.concatenate(blocks, 1),
                          [data["validation"], data["test"]], grid, **options)
    return [[(p[0][:, end - block.shape[1]:end], p[1][:, end - block.shape[1]:end])
             for p in predictions] for block, end in zip(blocks, ends)]


def _check_classes(task, y: dict, num_classes: int) -> None:
    largest = max(int(y[s].max()) for s in SPLITS)
    if largest >= num_classes:
        raise ValueError(f"{task.label}: label {largest} is out of range for {num_classes} "
                         "classes")
    if (y["train"] < 0).any():
        raise ValueError(f"{task.label}: negative labels (no level) in the train split")
    if len(np.unique(y["train"])) < 2:
        raise ValueError(f"{task.label}: the train split holds a single class; a classifier "
                         "needs at least two")


def _classification(grid, validation, test, y, num_classes, n_boot, seed):
    """Metrics of one task from its predictions per alpha (validation and test)."""
    scores = [np.mean(p == y["validation"]) for p in validation]
    best = chosen_alpha(scores)
    predicted, truth = test[best], y["test"]
    correct = (predicted == truth).astype(float)
    majority = np.bincount(y["train"]).argmax()
    index = resamples(len(truth), n_boot, seed)
    problem = interval_problem(len(truth), truth)
    return {
        "accuracy": float(correct.mean()),
        "accuracy_ci": percentile_interval(correct[index].mean(1), problem),
        "macro_f1": macro_f1(truth, predicted, num_classes),
        "macro_f1_ci": percentile_interval(macro_f1_resampled(truth, predicted, num_classes,
                                                              index), problem),
        "chance_accuracy": float(np.mean(truth == majority)),
        "num_classes": int(num_classes),
        "alpha_classification": float(grid[best]),
        "validation_accuracy": float(scores[best]),
        **interval_facts(len(truth), n_boot, problem),
    }


def _regression(task, grid, validation, test, values, targets, n_boot, seed):
    """Metrics of one task from its regression predictions per alpha."""
    errors = np.array([task.regression_errors(p, values["validation"]).mean()
                       for p in validation])
    best = chosen_alpha(-errors)
    test_errors = task.regression_errors(test[best], values["test"])
    constant = np.repeat(targets.mean(0, keepdims=True), len(values["test"]), axis=0)
    name = task.regression_metric
    return {
        name: float(test_errors.mean()),
        f"{name}_ci": percentile_interval(
            test_errors[resamples(len(test_errors), n_boot, seed)].mean(1),
            interval_problem(len(test_errors))),
        f"chance_{name}": float(task.regression_errors(constant, values["test"]).mean()),
        "alpha_regression": float(grid[best]),
        f"validation_{name}": float(errors[best]),
    }


def _classify_all(chosen, data, labels, classify, grid, num_classes, n_boot, seed, options):
    """Classification metrics of every task, from one joint fit."""
    y = {s: np.stack([class_labels(labels[s][t.label], f"labels[{s!r}][{t.label!r}]")
                      for t in chosen], 1) for s in SPLITS}
    for i, task in enumerate(chosen):
        _check_classes(task, {s: y[s][:, i] for s in SPLITS}, num_classes[i])
    predictions = classify(data["train"], y["train"], [data["validation"], data["test"]],
                           grid, num_classes, **options)
    return {task.name: _classification(grid, [p[0][:, i] for p in predictions],
                                       [p[1][:, i] for p in predictions],
                                       {s: y[s][:, i] for s in SPLITS}, num_classes[i],
                                       n_boot, seed)
            for i, task in enumerate(chosen)}


def _regress_all(chosen, data, labels, regress, grid, n_boot, seed, options):
    """Regression metrics of every task with a value, from one joint fit of all targets."""
    chosen = [t for t in chosen if t.value is not None]
    if not chosen:
        return {}
    values, targets = {}, {}
    for task in chosen:
        values[task.name] = {s: np.asarray(labels[s][task.value], dtype=np.float64)
                             for s in SPLITS}
        if not all(np.isfinite(v).all() for v in values[task.name].values()):
            raise ValueError(f"{task.value}: NaN or infinite values")
        targets[task.name] = task.regression_targets(values[task.name]["train"])
    per_task = regress_blocks(regress, data, [targets[t.name] for t in chosen], grid, options)
    return {task.name: _regression(task, grid, [v for v, _ in predictions],
                                   [t for _, t in predictions], values[task.name],
                                   targets[task.name], n_boot, seed)
            for task, predictions in zip(chosen, per_task)}


def class_counts(chosen, labels: dict, num_classes: dict | None, rows: int) -> list[int]:
    """Classes of each task: as given (an integer >= 2), else the largest label + 1, which
    may not exceed the number of ``rows`` (class ids are 0..K-1)."""
    given = num_classes or {}
    if not isinstance(given, dict):
        raise ValueError(f"num_classes must be a dict of task to int, got {num_classes!r}")
    counts = []
    for task in chosen:
        values = [class_labels(labels[s][task.label], f"labels[{s!r}][{task.label!r}]")
                  for s in SPLITS]
        largest = max(int(v.max(initial=0)) for v in values)
        if given.get(task.name) is not None:
            counts.append(check_integer(f"num_classes[{task.name!r}]", given[task.name], 2))
        elif largest + 1 > rows:
            raise ValueError(f"{task.label}: class id {largest} with only {rows} rows; class "
                             "ids must be 0..K-1 with K at most the number of rows (renumber "
                             "them, or give num_classes)")
        else:
            counts.append(largest + 1)
    return counts


def _fit_functions(model: str, backend: str):
    """(classify, regress) of a probe model and backend."""
    if model == "linear":
        return backend_functions(backend)
    if model != "mlp":
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    if backend != "torch":
        raise ValueError(f"the MLP probe runs on the torch backend, not {backend!r}")
    return mlp_classify, mlp_regress


def probe(embeddings: dict, labels: dict, tasks=TASK_NAMES, num_classes: dict | None = None,
          grid=GRID, backend: str = "torch", n_boot: int = 1000, seed: int = 0,
          device: str = "cpu", model: str = "linear", mlp_hidden: int | None = None) -> dict:
    """Probe one layer's embeddings on the SARL tasks.

    Parameters
    ----------
    embeddings : dict of split to ndarray (n, dim)
        ``train``, ``validation`` and ``test``.
    labels : dict of split to dict of column to ndarray (n,)
        The level columns (ints) and exact-value columns of every split.
    tasks : sequence of str
    num_classes : dict of task to int, optional
        Levels per task (default: the largest label seen + 1).
    grid : sequence of float
        L2 strengths.
    backend : str
        ``torch`` or ``sklearn``.
    n_boot : int
        Bootstrap resamples of the test split.
    seed : int
    device : str
        Torch device of the torch backend.
    model : str
        ``linear`` (softmax classifier and ridge) or ``mlp`` (one hidden layer per task,
        ``sarl_hf.probing.mlp``; torch backend only). Both follow the same protocol.
    mlp_hidden : int, optional
        Hidden units of the MLP probe (default ``probing.mlp.HIDDEN``).

    Returns
    -------
    dict of task to dict
        ``accuracy``, ``macro_f1`` (and ``*_ci``), ``chance_accuracy``, the regression
        error (``angular_error_deg`` or ``mae_<unit>``, its ``_ci`` and ``chance_``
        value), the chosen ``alpha_*``, and ``n_train``, ``n_validation``, ``n_test``.
    """
    check_inputs(embeddings, labels)
    classify, regress = _fit_functions(model, backend)
    grid = check_options(grid, n_boot, seed, device, backend)
    if isinstance(tasks, str) or not tasks:
        raise ValueError(f"tasks must be a non-empty sequence of task names, got {tasks!r}")
    chosen = [get_task(name) for name in tasks]
    rows = sum(len(embeddings[s]) for s in SPLITS)
    counts = class_counts(chosen, labels, num_classes, rows)
    check_memory(f"a probe of {rows} rows x {np.shape(embeddings['train'])[1]} dims with "
                 f"{n_boot} resamples", probe_memory(rows, np.shape(embeddings["train"])[1],
                                                     len(embeddings["test"]), n_boot, counts),
                 "lower n_boot or the embeddings' dim")
    data = standardised(embeddings)
    if model == "mlp":
        hidden = check_integer("mlp_hidden", mlp_hidden or MLP_HIDDEN, 1)
        options = {"device": device, "seed": seed, "hidden": hidden}
    else:
        options = linear_options(backend, data["train"], device)
    results = _classify_all(chosen, data, labels, classify, grid, counts, n_boot, seed,
                            options)
    for name, metrics in _regress_all(chosen, data, labels, regress, grid, n_boot, seed,
                                      options).items():
        results[name].update(metrics)
    for metrics in results.values():
        metrics.update({f"n_{s}": int(len(embeddings[s])) for s in SPLITS})
    return results
