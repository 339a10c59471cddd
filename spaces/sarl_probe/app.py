"""The Gradio Space of the ``sarl_probe`` evaluate module.

Upload embeddings with their references and splits (CSV or NPZ), pick a task, and read the
SARL probe metrics. evaluate 0.4.6's ``launch_gradio_widget`` builds its page with
``gr.inputs``, which Gradio 4 removed, so the page is built here.

File formats (one row per scene):

- NPZ: ``embeddings`` (n, dim) floats, ``splits`` (n,) strings, and the references: an
  array ``references`` or one array per task named by the task (``azimuth``, ``class``, ...).
- CSV: a ``split`` (or ``splits``) column, the embedding in the columns whose names start
  with ``emb`` (``emb_0``, ``emb_1``, ...), and the references in a ``references`` column or
  one column per task named by the task.

Config ``all`` probes every task column present.
"""

import logging
import os
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import evaluate  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "sarl_probe.py"
TASKS = ("azimuth", "elevation", "distance", "class", "rt60", "volume", "shape")
CONFIGS = TASKS + ("all",)
BACKENDS = ("torch", "sklearn")
MAX_FILE_MB = 100
MAX_UNPACKED_MB = 512  # an NPZ's arrays uncompressed, read from the archive's directory
MAX_ROWS = 50_000
MAX_DIM = 4096
MAX_VALUES = 16_000_000  # rows x dim (20,000 x 768 fits)
MAX_BOOT = 10_000
MAX_RESAMPLED = 20_000_000  # resamples x (test rows + classes²) of the bootstrap
MAX_CONCURRENT = 2  # probes run at once; the others wait in the queue
MAX_QUEUE = 16  # requests waiting at most; more are turned away at once
MAX_CLASSES_DEFAULT = 8  # the most levels of a task with exact values (azimuth sectors)

_MODULES = {}
LOG = logging.getLogger("sarl_probe_space")


def load_module(config):
    """The evaluate module for ``config``, loaded once from this folder's script."""
    if config not in CONFIGS:
        raise ValueError(f"task must be one of {CONFIGS}, got {config!r}")
    if config not in _MODULES:
        _MODULES[config] = evaluate.load(str(SCRIPT), config)
    return _MODULES[config]


def read_arrays(path):
    """Named arrays of an uploaded CSV or NPZ file (embedding columns gathered under
    ``embeddings``, ``split`` renamed ``splits``), after the size checks."""
    path = Path(path)
    size_mb = path.stat().st_size / 2**20
    if size_mb > MAX_FILE_MB:
        raise ValueError(f"the file has {size_mb:.0f} MB; this page takes up to {MAX_FILE_MB} MB "
                         "(run the module locally for more)")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        _check_npz(path)
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    elif suffix == ".csv":
        arrays = _csv_arrays(path)
    else:
        raise ValueError(f"upload a .csv or .npz file, got {path.name!r}")
    if "split" in arrays and "splits" not in arrays:
        arrays["splits"] = arrays.pop("split")
    for name in ("embeddings", "splits"):
        if name not in arrays:
            raise ValueError(f"the file has no {name!r}; it has {sorted(arrays)}")
    _check_size(np.shape(arrays["embeddings"]))
    return arrays


def _npy_header(archive, member):
    """(shape, dtype) of an ``.npy`` member of an NPZ, from its header alone."""
    from numpy.lib import format as npy

    readers = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}
    with archive.open(member) as handle:
        try:
            version = npy.read_magic(handle)
            shape, _, dtype = readers[version](handle)
        except (KeyError, ValueError, OSError) as error:
            raise ValueError(f"the NPZ member {member.filename!r} is not an array numpy "
                             f"wrote ({error})") from None
    return shape, dtype


def _check_npz(path):
    """Refuse an NPZ from its directory and array headers, before anything is unpacked:
    more than MAX_UNPACKED_MB uncompressed, members that are not plain arrays, or
    embeddings larger than the page's limits."""
    import zipfile

    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ValueError("the .npz file is not a zip archive (save it with numpy.savez)") \
            from None
    with archive:
        members = archive.infolist()
        unpacked = sum(m.file_size for m in members)
        if unpacked > MAX_UNPACKED_MB * 2**20:
            raise ValueError(f"the NPZ unpacks to {unpacked / 2**20:.0f} MB; this page takes "
                             f"up to {MAX_UNPACKED_MB} MB (run the module locally for more)")
        for member in members:
            shape, dtype = _npy_header(archive, member)
            if dtype.hasobject:
                raise ValueError(f"{member.filename!r} holds Python objects; give numbers "
                                 "and strings only")
            if np.prod(shape, dtype=np.float64) * dtype.itemsize > member.file_size:
                raise ValueError(f"{member.filename!r} claims {shape} but holds less data")
            if member.filename == "embeddings.npy":
                _check_size(shape)


def _csv_shape(path):
    """(rows, embedding columns) of a CSV, counted without parsing it."""
    with open(path, "rb") as handle:
        header = handle.readline().decode("utf-8", "replace").split(",")
        rows = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
    return rows, sum(name.strip().strip('"').startswith("emb") for name in header)


def _csv_arrays(path):
    import pandas as pd

    _check_size(_csv_shape(path))
    frame = pd.read_csv(path)
    embedding_columns = [c for c in frame.columns if str(c).startswith("emb")]
    if not embedding_columns:
        raise ValueError("the CSV has no embedding columns: name them emb_0, emb_1, ...")
    arrays = {c: frame[c].to_numpy() for c in frame.columns if c not in embedding_columns}
    arrays["embeddings"] = frame[embedding_columns].to_numpy()
    return arrays


def _check_size(shape):
    """Refuse embeddings of ``shape`` beyond the page's rows, dims and values."""
    if len(shape) != 2:
        raise ValueError(f"embeddings must be (n, dim), got shape {tuple(shape)}")
    n, dim = shape
    if n > MAX_ROWS or dim > MAX_DIM or n * dim > MAX_VALUES:
        raise ValueError(f"embeddings are {n} x {dim}; this page takes up to {MAX_ROWS} rows, "
                         f"{MAX_DIM} dimensions and {MAX_VALUES:,} values (run the module "
                         "locally for more)")


def check_cost(arrays, references, n_boot):
    """Refuse, before any fit, a bootstrap larger than the page runs: resamples x (test
    rows + the largest class count squared) beyond MAX_RESAMPLED."""
    splits = np.asarray(arrays["splits"]).astype(str)
    n_test = int(np.sum(splits == "test"))
    columns = references if isinstance(references, dict) else {"": references}
    classes = [int(np.max(values)) + 1 for values in columns.values()
               if np.asarray(values).dtype.kind in "iu" and np.size(values)]
    # class ids beyond the row count are the module's to refuse, with their own message
    largest = max([k for k in classes if k <= len(splits)] + [MAX_CLASSES_DEFAULT])
    cost = int(n_boot) * (n_test + largest * largest)
    if cost > MAX_RESAMPLED:
        raise ValueError(f"{n_boot} resamples of {n_test} test rows with up to {largest} "
                         f"classes is more bootstrap than this page runs ({MAX_RESAMPLED:,} "
                         "resampled values); lower the resamples (run the module locally "
                         "for more)")


def references_of(arrays, config):
    """The ``references`` argument of the module for ``config`` from the named arrays."""
    if config == "all":
        present = {task: arrays[task] for task in TASKS if task in arrays}
        if not present:
            raise ValueError(f"config 'all' needs one column per task named by the task "
                             f"({', '.join(TASKS)}); the file has {sorted(arrays)}")
        return present
    for name in ("references", config):
        if name in arrays:
            return arrays[name]
    raise ValueError(f"the file needs a 'references' or {config!r} column; it has "
                     f"{sorted(arrays)}")


def run_probe(path, config, backend="torch", n_boot=1000, seed=0):
    """Metrics of the uploaded file for one config (ValueError on bad input)."""
    if path is None:
        raise ValueError("upload a CSV or NPZ file first")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if n_boot is None or not 1 <= int(n_boot) <= MAX_BOOT:
        raise ValueError(f"bootstrap resamples must be between 1 and {MAX_BOOT}")
    arrays = read_arrays(path)
    references = references_of(arrays, config)
    check_cost(arrays, references, n_boot)
    return load_module(config).compute(
        embeddings=arrays["embeddings"], references=references, splits=arrays["splits"],
        backend=backend, n_boot=int(n_boot), seed=int(seed or 0))


def summary_table(results):
    """A Markdown table of the metrics: value, 95% interval and chance level.

    >>> print(summary_table({"accuracy": 0.5, "accuracy_ci": [0.4, 0.6],
    ...                      "chance_accuracy": 0.125, "n_test": 80}))
    | metric | value | 95% interval | chance |
    |---|---|---|---|
    | accuracy | 0.5 | 0.4 – 0.6 | 0.125 |
    | n_test | 80 |  |  |
    """
    lines = ["| metric | value | 95% interval | chance |", "|---|---|---|---|"]
    for key, value in results.items():
        task, _, name = key.rpartition("/")
        prefix = f"{task}/" if task else ""
        if name.endswith("_ci") or name.startswith("chance_"):
            continue
        interval = results.get(f"{key}_ci")
        chance = results.get(f"{prefix}chance_{name}")
        cells = [key, f"{value:.4g}",
                 f"{interval[0]:.4g} – {interval[1]:.4g}" if interval else "",
                 f"{chance:.4g}" if chance is not None else ""]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_example(path, n=240, seed=0):
    """A synthetic NPZ for config ``all``: the embedding carries azimuth, elevation and
    class, not the room (so the room tasks stay near chance)."""
    rng = np.random.default_rng(seed)
    azimuth = rng.uniform(0, 360, n)
    elevation = rng.choice([-40.0, -20.0, 0.0, 20.0, 40.0], n)
    source_class = rng.integers(0, 4, n)
    radians = np.deg2rad(azimuth)
    signal = np.c_[np.sin(radians), np.cos(radians), elevation / 40, np.eye(4)[source_class]]
    embeddings = np.c_[signal + 0.2 * rng.normal(size=signal.shape), rng.normal(size=(n, 8))]
    splits = np.array(["train", "train", "train", "validation", "test"] * (n // 5 + 1))[:n]
    np.savez(path, embeddings=embeddings.astype(np.float32), splits=splits, azimuth=azimuth,
             elevation=elevation, distance=rng.choice([0.5, 1.0, 2.0, 3.0], n),
             **{"class": source_class}, rt60=rng.choice([0.2, 0.45, 0.7, 0.95, 1.2], n),
             volume=rng.choice([30.0, 80.0, 200.0, 500.0], n) * rng.uniform(0.9, 1.1, n),
             shape=rng.integers(0, 4, n))
    return str(path)


def _article():
    """The metric card without its Space header ("" when the card is missing)."""
    card = HERE / "README.md"
    if not card.exists():
        return ""
    text = card.read_text(encoding="utf-8")
    if text.startswith("---"):
        text = text.split("---", 2)[2]
    return text


def build_demo(example_dir=None):
    """The Gradio page (not launched)."""
    import tempfile

    import gradio as gr

    def handler(path, config, backend, n_boot, seed):
        try:
            results = run_probe(path, config, backend, n_boot, seed)
        except (ValueError, OSError) as error:
            raise gr.Error(str(error)) from None
        except Exception as error:  # noqa: BLE001 - the page shows a message, the log the trace
            LOG.exception("sarl_probe: the probe failed")
            raise gr.Error(f"{type(error).__name__}: {error}") from None
        return summary_table(results), results

    example_dir = Path(example_dir or tempfile.mkdtemp(prefix="sarl_probe_"))
    example = write_example(example_dir / "synthetic_all_tasks.npz")
    return gr.Interface(
        fn=handler,
        inputs=[gr.File(label="embeddings + references + splits (.npz or .csv)",
                        file_types=[".npz", ".csv"], type="filepath"),
                gr.Dropdown(list(CONFIGS), value="azimuth", label="task"),
                gr.Radio(list(BACKENDS), value="torch", label="backend"),
                gr.Number(1000, precision=0, minimum=1, maximum=MAX_BOOT,
                          label="bootstrap resamples"),
                gr.Number(0, precision=0, label="seed")],
        outputs=[gr.Markdown(label="metrics", elem_id="metrics"),
                 gr.JSON(label="results", elem_id="results")],
        examples=[[example, "all", "torch", 200, 0]],
        title="SARL probe",
        description=("How much spatial information do your audio embeddings keep? Upload "
                     "them with what each scene really is and its split; the SARL linear "
                     "probe returns test metrics, 95% intervals and chance levels."),
        article=_article(),
        flagging_mode="never",
        api_name="evaluate",
        concurrency_limit=MAX_CONCURRENT,
    ).queue(max_size=MAX_QUEUE, default_concurrency_limit=MAX_CONCURRENT)


if __name__ == "__main__":
    build_demo().launch(max_file_size=f"{MAX_FILE_MB}mb")
