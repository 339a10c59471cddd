"""sarl_probe: the SARL linear-probe protocol as a Hugging Face ``evaluate`` metric.

How much spatial information does an embedding keep? Give the embeddings of a set of
scenes, what each scene really is (its azimuth in degrees, its room volume in m³, its
class, ...) and which split each row belongs to; the metric fits the SARL linear probes
(``sarl_hf.probing.protocol``) and returns the test metrics with bootstrap intervals and
chance levels.
"""

import numbers

import datasets
import evaluate
import numpy as np

from sarl_hf.citation import CITATION
from sarl_hf.probing.protocol import MIN_SPLIT_ROWS, probe
from sarl_hf.probing.tasks import TASK_NAMES, get_task
from sarl_hf.scene.factors import FactorConfig, nominal_levels
from sarl_hf.splits import SPLITS

#: Configs: one per SARL task, and ``all`` (any subset of the tasks at once).
CONFIGS = TASK_NAMES + ("all",)

#: Tasks whose references are exact values (floats) and the unit they are given in.
VALUE_UNITS = {"azimuth": "degrees", "elevation": "degrees", "distance": "metres",
               "rt60": "seconds", "volume": "m³"}

#: The Space this module is published to (``sarl publish evaluate --repo-id`` writes the
#: one it uploads to): the module's homepage, and its code with the bundled ``sarl_hf``.
SPACE_ID = "sarl-hf/sarl_probe"
HOMEPAGE = f"https://huggingface.co/spaces/{SPACE_ID}"
LICENSE = "apache-2.0"

_DESCRIPTION = """\
SARL probe: decode spatial factors (azimuth, elevation, distance, source class, RT60, room
volume, room shape) from frozen audio embeddings with the SARL linear-probe protocol.

For each task the embeddings are standardised with the train split's statistics; a softmax
classifier is fitted on the nominal level and a ridge regressor on the exact value for every
L2 strength of a fixed grid; the strength is chosen on the validation split; the test
metrics of the chosen models are reported with bootstrap 95% intervals and the chance level
(the most frequent train class; the train mean as the prediction). Azimuth is circular: the
regressor predicts (sin, cos) and the error is the angle between prediction and truth.
"""

_KWARGS_DESCRIPTION = """
Args:
    embeddings (`list` of `list` of `float`, or an (n, dim) array):
        One embedding per row; every row has the same length, no NaN or infinity.
    references:
        What each row really is. Per config:

        - ``azimuth``, ``elevation``, ``distance``, ``rt60``, ``volume``: the exact value
          as a `float` (or `int`), in degrees (azimuth counter-clockwise from the front,
          any turn; elevation in [-90, 90]), metres, seconds and m³ (all > 0). The nominal
          level the classifier is fitted on is derived with the SARL default levels
          (``sarl_hf.scene.factors.FactorConfig``): azimuth sector ``k = floor(az / 45 + 0.5)
          mod 8`` (sector k covers [45k - 22.5, 45k + 22.5)); elevation (-40, -20, 0, 20,
          40°), distance (0.5, 1, 2, 3 m) and RT60 (0.2, 0.45, 0.7, 0.95, 1.2 s) the
          nearest level; volume (30, 80, 200, 500 m³) the nearest level in log10. For
          other levels pass ``levels``. If only nominal levels are known, pass the level
          values themselves (e.g. ``45 * sector``).
        - ``class``, ``shape``: the class label as an `int` >= 0 (not a float).
        - ``all``: a dict of task name to per-row references (``{"azimuth": [...],
          "class": [...]}``; a dict of lists, a pandas DataFrame or a dataset batch), or
          one such dict per row; any subset of the seven tasks, the same on every row.
          Each column follows the rule of its task. Only the tasks given are probed.
    splits (`list` of `str`):
        ``"train"``, ``"validation"`` or ``"test"`` per row; every split needs at least
        two rows and the train split at least two classes of every task.
    levels (optional):
        Nominal level indices (`int` >= 0) for the tasks with exact values, instead of the
        default levels: one per row (a dict of task to one per row for ``all``), in the
        order the rows were added.
    backend (`str`, default ``"torch"``):
        ``"torch"`` or ``"sklearn"`` (the cross-check; same data, grid, selection).
    seed (`int`, default 0):
        Seed of the bootstrap resampling.
    n_boot (`int`, default 1000):
        Bootstrap resamples of the test split.
    device (`str`, default ``"cpu"``):
        Torch device of the torch backend.

Returns:
    A flat dict. Every task: ``accuracy``, ``accuracy_ci`` ([low, high], 95%), ``macro_f1``,
    ``macro_f1_ci``, ``chance_accuracy``, ``alpha_classification``, ``n_train``,
    ``n_validation``, ``n_test``. Tasks with exact values also: the regression error
    (``angular_error_deg`` for azimuth; ``mae_deg``, ``mae_m``, ``mae_s``, ``mae_log10_m3``
    for elevation, distance, rt60, volume), its ``_ci``, its chance level (``chance_`` +
    name, the error of predicting the train mean) and ``alpha_regression``. Config ``all``
    returns the same keys prefixed with the task: ``"azimuth/accuracy"``.

Raises:
    ValueError: ragged or non-finite embeddings, references of the wrong type (strings for
    numbers, floats for class labels) or out of range, a split name other than the three,
    a split of fewer than two rows, a train split with a single class, class ids not
    below the number of rows, or a probe larger than the machine's free memory (by
    arithmetic, before any fit).

Examples:
    Synthetic embeddings whose first two dimensions carry the azimuth:

    >>> import evaluate
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> azimuth = rng.uniform(0, 360, 80)
    >>> radians = np.deg2rad(azimuth)
    >>> embeddings = np.c_[np.sin(radians), np.cos(radians)] + 0.1 * rng.normal(size=(80, 2))
    >>> splits = ["train"] * 48 + ["validation"] * 16 + ["test"] * 16
    >>> sarl_probe = evaluate.load("sarl_probe", "azimuth")
    >>> results = sarl_probe.compute(embeddings=embeddings, references=azimuth,
    ...                              splits=splits, n_boot=50)
    >>> results["accuracy"] > 2 * results["chance_accuracy"]
    True
    >>> results["angular_error_deg"] < results["chance_angular_error_deg"] / 4
    True
    >>> results["accuracy_ci"][0] <= results["accuracy"] <= results["accuracy_ci"][1]
    True

    Class labels are ints; rows may come in batches:

    >>> labels = np.arange(80) % 3
    >>> features = np.eye(3)[labels] + 0.3 * rng.normal(size=(80, 3))
    >>> class_probe = evaluate.load("sarl_probe", "class")
    >>> for rows in (slice(0, 40), slice(40, 80)):
    ...     class_probe.add_batch(embeddings=features[rows], references=labels[rows],
    ...                           splits=splits[rows])
    >>> class_probe.compute(n_boot=50)["accuracy"] > 0.8
    True

    Config ``all`` takes a dict of per-task references:

    >>> every = evaluate.load("sarl_probe", "all")
    >>> results = every.compute(embeddings=np.c_[embeddings, features],
    ...                         references={"azimuth": azimuth, "class": labels},
    ...                         splits=splits, n_boot=50)
    >>> results["azimuth/accuracy"] > 0.5, results["class/accuracy"] > 0.8
    (True, True)

    Bad input is refused with a ValueError that says what is wrong:

    >>> sarl_probe.compute(embeddings=[[0.1, 0.2], [0.3]], references=[10.0, 20.0],
    ...                    splits=["train", "test"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: embeddings are ragged: row 0 has 2 values, row 1 has 1; ...
    >>> class_probe.compute(embeddings=[[0.1], [0.2]], references=[1.0, 2.0],
    ...                     splits=["train", "test"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: references of task 'class' must be integer class labels, got floats (1.0 ...
"""


def _plain(value):
    """A numpy scalar as the Python value it holds (for readable error messages)."""
    return value.item() if isinstance(value, np.generic) else value


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _one_per_row(values, what):
    """``values`` as a 1-D array; ValueError unless there is one scalar per row."""
    try:
        array = np.asarray(values)
    except ValueError as error:
        raise ValueError(f"{what} must hold one value per row: {error}") from None
    if array.ndim != 1:
        raise ValueError(f"{what} must hold one value per row (1-D), got shape {array.shape}")
    return array


def check_numbers(values, what, integer=False):
    """Numbers of ``values``, one per row, refusing strings, bools, None and (for
    ``integer``) floats.

    Parameters
    ----------
    values : array-like (n,)
    what : str
        Name of the input in the error messages.
    integer : bool
        Class labels: ints >= 0 only.

    Returns
    -------
    ndarray (n,)
        float64, or int64 for ``integer``.

    Examples
    --------
    >>> check_numbers([1, 2.5], "x")
    array([1. , 2.5])
    >>> check_numbers(["1.5"], "x")
    Traceback (most recent call last):
    ...
    ValueError: x must be numbers, got strings ('1.5' at row 0)
    """
    array = _one_per_row(values, what)
    if array.dtype.kind == "O":
        bad = next((i for i, v in enumerate(array) if not _is_number(v)), None)
        if bad is not None:
            raise ValueError(f"{what} must be numbers, got {_plain(array[bad])!r} "
                             f"({type(array[bad]).__name__}) at row {bad}")
        array = np.asarray(array.tolist())
    kind = array.dtype.kind
    if kind in "USO":
        raise ValueError(f"{what} must be numbers, got strings ({_plain(array[0])!r} at row 0)")
    if kind == "b" or kind not in "iuf":
        raise ValueError(f"{what} must be numbers, got {array.dtype} values")
    if integer:
        if kind == "f":
            raise ValueError(f"{what} must be integer class labels, got floats "
                             f"({_plain(array[0])!r} at row 0); cast them with .astype(int) "
                             "if they are labels")
        negative = np.flatnonzero(array < 0)
        if negative.size:
            raise ValueError(f"{what} must be class labels >= 0, got {array[negative[0]]} at "
                             f"row {negative[0]}")
        return array.astype(np.int64)
    array = array.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise ValueError(f"{what} hold NaN or infinite values (row {bad[0]})")
    return array


def check_references(task_name, values):
    """References of one task, checked for type and range.

    Returns
    -------
    ndarray (n,)
        float64 exact values (tasks with a value) or int64 class labels.
    """
    task = get_task(task_name)
    what = f"references of task {task_name!r}"
    if task.value is None:
        return check_numbers(values, what, integer=True)
    array = check_numbers(values, what)
    if task_name == "elevation" and np.abs(array).max(initial=0) > 90:
        raise ValueError(f"{what} must be degrees in [-90, 90], got {array[np.abs(array) > 90][0]}")
    if task_name in ("distance", "rt60", "volume") and (array <= 0).any():
        raise ValueError(f"{what} must be {VALUE_UNITS[task_name]} > 0, got "
                         f"{array[array <= 0][0]}")
    return array


def _row_lengths(rows):
    lengths = []
    for i, row in enumerate(rows):
        if np.ndim(row) != 1:
            raise ValueError(f"embeddings: row {i} is not a flat vector (shape "
                             f"{np.shape(row)}); give one (dim,) vector per row")
        lengths.append(len(row))
    return lengths


def check_embeddings(embeddings):
    """Embeddings as an (n, dim) float32 array.

    ValueError for ragged rows, rows that are not vectors, non-numbers, NaN or infinity.

    Examples
    --------
    >>> check_embeddings([[1, 2], [3, 4]]).shape
    (2, 2)
    >>> check_embeddings([[1.0, float("nan")]])
    Traceback (most recent call last):
    ...
    ValueError: embeddings hold NaN or infinite values (row 0, column 1)
    """
    try:
        array = np.asarray(embeddings)
    except ValueError:
        array = None
    if array is None or array.dtype.kind == "O":
        lengths = _row_lengths(embeddings)
        if len(set(lengths)) > 1:
            other = next(i for i, n in enumerate(lengths) if n != lengths[0])
            raise ValueError(f"embeddings are ragged: row 0 has {lengths[0]} values, row "
                             f"{other} has {lengths[other]}; every embedding must have the "
                             "same length")
        array = np.asarray([np.asarray(row).tolist() for row in embeddings], dtype=object)
    if array.ndim != 2 or array.shape[1] == 0:
        raise ValueError(f"embeddings must be (n, dim) with dim >= 1: one flat vector per row, "
                         f"got shape {array.shape}")
    if array.dtype.kind not in "iuf":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"embeddings must be numbers, got {array.dtype} values") from None
    array = array.astype(np.float32)
    bad = np.argwhere(~np.isfinite(array))
    if len(bad):
        raise ValueError(f"embeddings hold NaN or infinite values (row {bad[0][0]}, column "
                         f"{bad[0][1]})")
    return array


def check_splits(splits):
    """Split names, one per row, each of ``train``, ``validation``, ``test``.

    Examples
    --------
    >>> check_splits(["train", "dev"])
    Traceback (most recent call last):
    ...
    ValueError: splits must be 'train', 'validation' or 'test', got 'dev' at row 1
    """
    array = _one_per_row(splits, "splits")
    for i, value in enumerate(array):
        if not isinstance(value, str) or value not in SPLITS:
            raise ValueError("splits must be 'train', 'validation' or 'test', got "
                             f"{_plain(value)!r} at row {i}")
    return array.astype(str)


def _columns_of(references):
    """{task: values} of ``all`` references given as a mapping of columns or as rows."""
    if hasattr(references, "keys"):
        return {key: references[key] for key in references.keys()}
    if isinstance(references, (str, bytes)) or not hasattr(references, "__len__"):
        raise ValueError("config 'all' takes references as a dict of task to per-row values, "
                         f"or one dict per row; got {type(references).__name__}")
    rows = list(references)
    if not all(isinstance(row, dict) for row in rows):
        bad = next(row for row in rows if not isinstance(row, dict))
        raise ValueError("config 'all' takes references as a dict of task to per-row values, "
                         f"or one dict per row; got a row of type {type(bad).__name__}")
    keys = list(rows[0]) if rows else []
    for i, row in enumerate(rows):
        if set(row) != set(keys):
            raise ValueError(f"references: row {i} has tasks {sorted(row)}, row 0 "
                             f"{sorted(keys)}; give every row the same tasks")
    return {key: [row[key] for row in rows] for key in keys}


def check_all_references(references, n):
    """{task: checked values} of ``all`` references with ``n`` rows each."""
    columns = _columns_of(references)
    unknown = sorted(set(columns) - set(TASK_NAMES))
    if unknown:
        raise ValueError(f"references: unknown tasks {unknown}; tasks are {TASK_NAMES}")
    if not columns:
        raise ValueError(f"references: give at least one task of {TASK_NAMES}")
    checked = {name: check_references(name, values) for name, values in columns.items()}
    for name, values in checked.items():
        if len(values) != n:
            raise ValueError(f"references[{name!r}] has {len(values)} rows, the embeddings {n}")
    return checked


def _present_columns(rows):
    """{task: values} of stored ``all`` rows (dicts with every task, None where absent)."""
    columns = {}
    for name in TASK_NAMES:
        values = [row[name] for row in rows]
        missing = sum(v is None for v in values)
        if missing == len(values):
            continue
        if missing:
            raise ValueError(f"references: task {name!r} is missing on {missing} of "
                             f"{len(values)} rows; give every row the same tasks")
        columns[name] = values
    if not columns:
        raise ValueError(f"references: give at least one task of {TASK_NAMES}")
    return columns


def _levels_of(task_name, levels, n):
    """Nominal levels given by the caller for one task, or None."""
    if levels is None:
        return None
    if get_task(task_name).value is None:
        raise ValueError(f"levels: task {task_name!r} has no exact value; its references are "
                         "the levels already")
    array = check_numbers(levels, f"levels of task {task_name!r}", integer=True)
    if len(array) != n:
        raise ValueError(f"levels of task {task_name!r} has {len(array)} rows, the embeddings {n}")
    return array


def task_columns(task_name, references, levels=None):
    """Label columns of one task for ``sarl_hf.probing.protocol.probe`` and its number of classes.

    Returns
    -------
    columns : dict of str to ndarray
        The level column (ints) and, for tasks with exact values, the value column.
    num_classes : int or None
        Levels of the default configuration when they were derived, else None.
    """
    task = get_task(task_name)
    values = check_references(task_name, references)
    given = _levels_of(task_name, levels, len(values))
    if task.value is None:
        return {task.label: values}, None
    if given is not None:
        return {task.label: given, task.value: values}, None
    num_classes = len(FactorConfig().levels(task_name))
    return {task.label: nominal_levels(task_name, values), task.value: values}, num_classes


def _check_class_ids(columns, n):
    """Class ids (the level columns) must be 0..K-1 with K at most the number of rows:
    the bootstrap's confusion matrices grow with K², so larger ids are refused here."""
    for name, values in columns.items():
        if values.dtype.kind in "iu" and values.size and int(values.max()) >= n:
            row = int(np.argmax(values))
            raise ValueError(f"{name}: class id {int(values.max())} at row {row} is out of "
                             f"range: with {n} rows, class ids must lie in [0, {n - 1}]; "
                             "renumber them 0..K-1")


def _by_split(embeddings, splits, columns):
    """Embeddings and label columns cut into the three splits."""
    x, y = {}, {}
    for split in SPLITS:
        rows = splits == split
        if rows.sum() < MIN_SPLIT_ROWS:
            found = f"only {int(rows.sum())}" if rows.any() else "no"
            raise ValueError(f"splits: {found} {split!r} rows; the probe needs at least "
                             f"{MIN_SPLIT_ROWS} train, validation and test rows each")
        x[split] = embeddings[rows]
        y[split] = {column: values[rows] for column, values in columns.items()}
    return x, y


def _check_options(backend, n_boot, seed):
    if backend not in ("torch", "sklearn"):
        raise ValueError(f"backend must be 'torch' or 'sklearn', got {backend!r}")
    if not isinstance(n_boot, numbers.Integral) or n_boot < 1:
        raise ValueError(f"n_boot must be an int >= 1, got {n_boot!r}")
    if not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be an int, got {seed!r}")


def _features(config_name):
    def reference(name):
        return datasets.Value("float64" if get_task(name).value else "int64")

    if config_name == "all":
        references = {name: reference(name) for name in TASK_NAMES}
    else:
        references = reference(config_name)
    return datasets.Features({"embeddings": datasets.Sequence(datasets.Value("float32")),
                              "references": references,
                              "splits": datasets.Value("string")})


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class SarlProbe(evaluate.Metric):
    """SARL linear probe of embeddings; configs: the seven tasks and ``all``."""

    def _info(self):
        if self.config_name == "default":
            self.config_name = "all"
        if self.config_name not in CONFIGS:
            raise ValueError(f"config must be one of {CONFIGS}, got {self.config_name!r}")
        return evaluate.MetricInfo(
            module_type="metric",
            description=_DESCRIPTION,
            citation=CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=_features(self.config_name),
            homepage=HOMEPAGE,
            codebase_urls=[f"{HOMEPAGE}/tree/main"],
            license=LICENSE,
            reference_urls=["https://huggingface.co/docs/evaluate"],
        )

    def _checked_batch(self, embeddings, references, splits):
        """The batch, checked and converted, in the form the features encode."""
        if embeddings is None or references is None or splits is None:
            raise ValueError("sarl_probe needs embeddings, references and splits")
        x = check_embeddings(embeddings)
        names = check_splits(splits)
        if self.config_name == "all":
            columns = check_all_references(references, len(x))
            refs = [{name: (columns[name][i].item() if name in columns else None)
                     for name in TASK_NAMES} for i in range(len(x))]
        else:
            refs = check_references(self.config_name, references)
        if not len(x) == len(refs) == len(names):
            raise ValueError(f"embeddings ({len(x)}), references ({len(refs)}) and splits "
                             f"({len(names)}) must have one row each")
        return {"embeddings": x, "references": refs, "splits": names.tolist()}

    def add_batch(self, *, embeddings=None, references=None, splits=None, **kwargs):
        """Add a batch of rows: ``embeddings``, ``references`` and ``splits``."""
        batch = self._checked_batch(embeddings, references, splits)
        return super().add_batch(**batch, **kwargs)

    def add(self, *, embeddings=None, references=None, splits=None, **kwargs):
        """Add one row: one embedding, its reference and its split."""
        if embeddings is None or references is None or splits is None:
            raise ValueError("sarl_probe needs embeddings, references and splits")
        batch = self._checked_batch([embeddings], [references], [splits])
        row = {key: values[0] for key, values in batch.items()}
        return super().add(**row, **kwargs)

    def _compute(self, embeddings, references, splits, levels=None, backend="torch", seed=0,
                 n_boot=1000, device="cpu"):
        _check_options(backend, n_boot, seed)
        x = check_embeddings(embeddings)
        names = check_splits(splits)
        if self.config_name == "all":
            given = {} if levels is None else levels
            if not hasattr(given, "keys"):
                raise ValueError("levels: config 'all' takes a dict of task to per-row levels")
            present = _present_columns(references)
            tasks = tuple(present)
            columns, num_classes = {}, {}
            for name, values in present.items():
                cols, k = task_columns(name, values, given.get(name))
                columns.update(cols)
                num_classes[name] = k
            unknown = sorted(set(given) - set(tasks))
            if unknown:
                raise ValueError(f"levels: tasks {unknown} are not in the references")
        else:
            tasks = (self.config_name,)
            columns, k = task_columns(self.config_name, references, levels)
            num_classes = {self.config_name: k}
        _check_class_ids(columns, len(x))
        x_split, y_split = _by_split(x, names, columns)
        results = probe(x_split, y_split, tasks=tasks, num_classes=num_classes,
                        backend=backend, n_boot=int(n_boot), seed=int(seed), device=device)
        if self.config_name != "all":
            return results[self.config_name]
        return {f"{task}/{key}": value for task, scores in results.items()
                for key, value in scores.items()}
