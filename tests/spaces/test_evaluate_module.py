"""The ``sarl_probe`` evaluate module (spaces/sarl_probe): loading, metrics, errors, doctests,
and the Space's page helpers."""

from __future__ import annotations

import doctest
import importlib.util
import sys
from pathlib import Path

import evaluate
import numpy as np
import pytest
import torch

SPACES = Path(__file__).resolve().parents[2] / "spaces"
MODULE_DIR = SPACES / "sarl_probe"
SPLITS = ["train"] * 96 + ["validation"] * 32 + ["test"] * 64


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny fits run faster on one thread than on two contending ones."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def load(config="azimuth"):
    return evaluate.load(str(MODULE_DIR), config, keep_in_memory=True)


def corpus(n=len(SPLITS), seed=0):
    """Per-row labels of every task and embeddings that carry azimuth, elevation and class
    linearly (plus noise dimensions), not the room."""
    rng = np.random.default_rng(seed)
    labels = {"azimuth": rng.uniform(-180, 180, n),
              "elevation": rng.choice([-40.0, -20.0, 0.0, 20.0, 40.0], n),
              "distance": rng.choice([0.5, 1.0, 2.0, 3.0], n) + rng.uniform(-0.1, 0.1, n),
              "class": np.arange(n) % 4,
              "rt60": rng.choice([0.2, 0.45, 0.7, 0.95, 1.2], n) * rng.uniform(0.95, 1.05, n),
              "volume": rng.choice([30.0, 80.0, 200.0, 500.0], n) * rng.uniform(0.9, 1.1, n),
              "shape": rng.integers(0, 4, n)}
    radians = np.deg2rad(labels["azimuth"])
    signal = np.c_[np.sin(radians), np.cos(radians), labels["elevation"] / 40,
                   np.eye(4)[labels["class"]]]
    embeddings = np.c_[signal + 0.1 * rng.normal(size=signal.shape), rng.normal(size=(n, 4))]
    return embeddings.astype(np.float32), labels


@pytest.fixture(scope="module")
def data():
    return corpus()


def test_load_every_config():
    for config in ("azimuth", "elevation", "distance", "class", "rt60", "volume", "shape",
                   "all"):
        module = load(config)
        assert module.name == "sarl_probe"
        assert list(module.features) == ["embeddings", "references", "splits"]
    assert load("azimuth").features["references"].dtype == "float64"
    assert load("class").features["references"].dtype == "int64"
    assert evaluate.load(str(MODULE_DIR)).config_name == "all"
    assert evaluate.load(str(MODULE_DIR / "sarl_probe.py"), "shape").config_name == "shape"
    with pytest.raises(ValueError, match="config must be one of"):
        load("loudness")


def test_info_names_homepage_code_and_licence():
    info = load("azimuth").info
    assert info.homepage == "https://huggingface.co/spaces/sarl-hf/sarl_probe"
    assert info.codebase_urls == [f"{info.homepage}/tree/main"]
    assert info.license == "apache-2.0"


def test_azimuth_far_above_chance(data):
    embeddings, labels = data
    results = load("azimuth").compute(embeddings=embeddings, references=labels["azimuth"],
                                      splits=SPLITS, n_boot=50)
    assert results["accuracy"] > results["chance_accuracy"] + 0.4
    assert results["angular_error_deg"] < results["chance_angular_error_deg"] / 4
    low, high = results["accuracy_ci"]
    assert low <= results["accuracy"] <= high
    assert (results["n_train"], results["n_validation"], results["n_test"]) == (96, 32, 64)


def test_batches_give_the_same_result_as_one_call(data):
    embeddings, labels = data
    once = load("class").compute(embeddings=embeddings, references=labels["class"],
                                 splits=SPLITS, n_boot=50)
    module = load("class")
    for rows in (slice(0, 50), slice(50, 120), slice(120, None)):
        module.add_batch(embeddings=embeddings[rows].tolist(),
                         references=labels["class"][rows].tolist(), splits=SPLITS[rows])
    assert module.compute(n_boot=50) == once
    assert once["accuracy"] > 0.9


def test_all_config_dict_of_columns_and_rows(data):
    embeddings, labels = data
    tasks = ("azimuth", "class", "volume")
    columns = {task: labels[task] for task in tasks}
    results = load("all").compute(embeddings=embeddings, references=columns, splits=SPLITS,
                                  n_boot=50)
    assert {key.split("/")[0] for key in results} == set(tasks)
    assert results["azimuth/accuracy"] > results["azimuth/chance_accuracy"] + 0.4
    assert results["class/accuracy"] > 0.9
    assert "volume/mae_log10_m3" in results
    rows = [{task: labels[task][i].item() for task in tasks} for i in range(len(SPLITS))]
    assert load("all").compute(embeddings=embeddings, references=rows, splits=SPLITS,
                               n_boot=50) == results
    module = load("all")
    for i in range(3):
        module.add(embeddings=embeddings[i], references=rows[i], splits=SPLITS[i])
    module.add_batch(embeddings=embeddings[3:], references=rows[3:], splits=SPLITS[3:])
    assert module.compute(n_boot=50) == results


def test_explicit_levels_replace_the_default_ones(data):
    embeddings, labels = data
    levels = (labels["distance"] > 1.5).astype(int)  # two levels: near and far
    results = load("distance").compute(embeddings=embeddings, references=labels["distance"],
                                       splits=SPLITS, levels=levels, n_boot=50)
    assert results["chance_accuracy"] >= 0.3  # two classes, not four
    with pytest.raises(ValueError, match="takes a dict of task to per-row levels"):
        load("all").compute(embeddings=embeddings, references={"class": labels["class"]},
                            splits=SPLITS, levels=levels)
    with pytest.raises(ValueError, match="has no exact value"):
        load("all").compute(embeddings=embeddings, references={"class": labels["class"]},
                            splits=SPLITS, levels={"class": labels["class"]})


def test_torch_and_sklearn_agree(data):
    embeddings, labels = data
    module = load("elevation")
    scores = {backend: module.compute(embeddings=embeddings, references=labels["elevation"],
                                      splits=SPLITS, n_boot=50, backend=backend)
              for backend in ("torch", "sklearn")}
    assert abs(scores["torch"]["accuracy"] - scores["sklearn"]["accuracy"]) <= 0.01
    assert scores["torch"]["mae_deg"] == pytest.approx(scores["sklearn"]["mae_deg"], rel=0.02)


BAD_INPUTS = [
    ("azimuth", {"embeddings": [[0.1, 0.2], [0.3]]}, "ragged: row 0 has 2 values, row 1 has 1"),
    ("azimuth", {"embeddings": [[0.1, np.nan], [0.3, 0.4]]}, "NaN or infinite.*row 0"),
    ("azimuth", {"embeddings": [0.1, 0.2]}, r"\(n, dim\)"),
    ("azimuth", {"references": ["10.0", "20.0"]}, "must be numbers, got strings"),
    ("azimuth", {"references": [10.0, None]}, "must be numbers, got None"),
    ("azimuth", {"references": [10.0, float("inf")]}, "NaN or infinite"),
    ("elevation", {"references": [10.0, 100.0]}, r"degrees in \[-90, 90\]"),
    ("volume", {"references": [30.0, 0.0]}, "m³ > 0"),
    ("class", {"references": [1.0, 2.0]}, "integer class labels, got floats"),
    ("class", {"references": [1, -1]}, "class labels >= 0"),
    ("shape", {"references": [True, False]}, "must be numbers"),
    ("azimuth", {"splits": ["train", "dev"]}, "'train', 'validation' or 'test', got 'dev'"),
    ("azimuth", {"splits": ["train"]}, r"embeddings \(2\), references \(2\) and splits \(1\)"),
    ("all", {"references": {"azimuth": [1.0, 2.0], "loudness": [1.0, 2.0]}}, "unknown tasks"),
    ("all", {"references": [1.0, 2.0]}, "dict of task to per-row values"),
    ("all", {"references": [{"azimuth": 1.0}, {"class": 1}]}, "give every row the same tasks"),
    ("all", {"references": {"class": [0.0, 1.0]}}, "integer class labels"),
]


@pytest.mark.parametrize("config, change, message", BAD_INPUTS,
                         ids=[f"{c}-{m[:24]}" for c, _, m in BAD_INPUTS])
def test_bad_rows_are_refused(config, change, message):
    default_refs = {"azimuth": [0.0, 90.0]} if config == "all" else (
        [0, 1] if config in ("class", "shape") else [10.0, 20.0])
    inputs = {"embeddings": [[0.1, 0.2], [0.3, 0.4]], "references": default_refs,
              "splits": ["train", "test"]}
    inputs.update(change)
    with pytest.raises(ValueError, match=message):
        load(config).compute(**inputs)


#: (config, change to the 192 good rows, refusal): work a bad argument would make unbounded
#: (class ids far beyond the rows grow the bootstrap's confusion matrices with K², resamples
#: without end) or a result that means nothing (a split of one row), refused before the fit.
UNBOUNDED = [
    ("class", {"references": lambda labels: labels["class"] * 10**7},
     r"class id 30000000 at row 3 is out of range: with 192 rows, class ids must lie in "
     r"\[0, 191\]"),
    ("class", {"splits": lambda labels: ["train"] * 96 + ["validation"] * 95 + ["test"]},
     r"splits: only 1 'test' rows; the probe needs at least 2"),
    ("azimuth", {"n_boot": 10**13}, r"with 10000000000000 resamples would need about"),
]


@pytest.mark.parametrize("config, change, message", UNBOUNDED,
                         ids=[f"{c}-{m[:24]}" for c, _, m in UNBOUNDED])
def test_unbounded_work_is_refused_before_it_starts(config, change, message, data):
    embeddings, labels = data
    inputs = {"embeddings": embeddings, "references": labels[config], "splits": SPLITS}
    inputs.update({k: v(labels) if callable(v) else v for k, v in change.items()})
    with pytest.raises(ValueError, match=message):
        load(config).compute(**inputs)


def test_ragged_across_batches_is_refused():
    module = load("azimuth")
    module.add_batch(embeddings=[[0.1, 0.2]], references=[10.0], splits=["train"])
    module.add_batch(embeddings=[[0.1, 0.2, 0.3]], references=[20.0], splits=["test"])
    with pytest.raises(ValueError, match="ragged: row 0 has 2 values, row 1 has 3"):
        module.compute()


def test_missing_split_single_class_and_options(data):
    embeddings, labels = data
    module = load("class")
    no_validation = ["train" if s == "validation" else s for s in SPLITS]
    with pytest.raises(ValueError, match="no 'validation' rows"):
        module.compute(embeddings=embeddings, references=labels["class"], splits=no_validation)
    one_class = np.where(np.array(SPLITS) == "train", 2, labels["class"])
    with pytest.raises(ValueError, match="single class"):
        module.compute(embeddings=embeddings, references=one_class, splits=SPLITS)
    with pytest.raises(ValueError, match="backend must be"):
        module.compute(embeddings=embeddings, references=labels["class"], splits=SPLITS,
                       backend="jax")
    with pytest.raises(ValueError, match="n_boot must be an int >= 1"):
        module.compute(embeddings=embeddings, references=labels["class"], splits=SPLITS,
                       n_boot=0)
    with pytest.raises(ValueError, match="sarl_probe needs embeddings, references and splits"):
        module.add(embeddings=[0.1, 0.2], references=None, splits="train")


def _run_doctests(module_or_path, monkeypatch):
    monkeypatch.chdir(SPACES)  # evaluate.load("sarl_probe", ...) finds ./sarl_probe
    if isinstance(module_or_path, Path):
        result = doctest.testfile(str(module_or_path), module_relative=False)
    else:
        result = doctest.testmod(module_or_path)
    assert result.attempted > 0
    assert result.failed == 0


def test_module_doctests(monkeypatch):
    module = sys.modules[type(load()).__module__]
    _run_doctests(module, monkeypatch)


def test_metric_card_examples(monkeypatch):
    _run_doctests(MODULE_DIR / "README.md", monkeypatch)


def _space_app():
    spec = importlib.util.spec_from_file_location("sarl_probe_space_app", MODULE_DIR / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    return app


def test_space_helpers_read_npz_and_csv(tmp_path, monkeypatch):
    app = _space_app()
    _run_doctests(app, monkeypatch)
    example = app.write_example(tmp_path / "example.npz", n=120)
    results = app.run_probe(example, "azimuth", n_boot=20)
    assert results["accuracy"] > results["chance_accuracy"]
    embeddings, labels = corpus(n=60)
    columns = {f"emb_{j}": embeddings[:, j] for j in range(embeddings.shape[1])}
    import pandas as pd

    csv = tmp_path / "rows.csv"
    splits = (["train"] * 3 + ["validation", "test"]) * 12
    pd.DataFrame({"split": splits, "class": labels["class"], **columns}).to_csv(csv, index=False)
    arrays = app.read_arrays(csv)
    assert arrays["embeddings"].shape == (60, embeddings.shape[1])
    assert list(app.references_of(arrays, "all")) == ["class"]
    assert app.run_probe(csv, "class", n_boot=20)["accuracy"] > 0.9
    with pytest.raises(ValueError, match="'references' or 'azimuth' column"):
        app.run_probe(csv, "azimuth")
    with pytest.raises(ValueError, match="upload a .csv or .npz"):
        app.read_arrays(tmp_path)
    monkeypatch.setattr(app, "MAX_ROWS", 10)
    with pytest.raises(ValueError, match="up to 10 rows"):
        app.read_arrays(example)


def test_space_page_builds(tmp_path):
    demo = _space_app().build_demo(example_dir=tmp_path)
    assert demo.title == "SARL probe"
    assert demo.api_name == "evaluate"  # tests/test_spaces.py calls it in a browser and by API
