"""The probe protocol: torch against scikit-learn, determinism, errors, and real decoding."""

from __future__ import annotations

import numpy as np
import pytest

from sarl_hf.corpus.generation import generate
from sarl_hf.corpus.plan import CorpusPlan
from sarl_hf.embeddings.cache import load_embeddings
from sarl_hf.embeddings.embed import embed_corpus
from sarl_hf.encoders import load_encoder
from sarl_hf.probing.protocol import probe
from sarl_hf.probing.tasks import ROOM_TASKS, TASKS
from sarl_hf.rendering.renderer import direction_of
from sarl_hf.scene.balanced import design
from sarl_hf.sources import ProceduralBank

SIZES = {"train": 300, "validation": 100, "test": 100}


def synthetic(rng, n, mixing, noise=0.5):
    """Labels of three tasks and features that carry them linearly (the same ``mixing``
    (7, dim) for every split)."""
    azimuth = rng.uniform(0, 360, n)
    level = ((azimuth + 22.5) // 45).astype(int) % 8
    rt60 = rng.uniform(0.2, 1.2, n)
    shape = rng.integers(0, 4, n)
    features = np.concatenate([
        np.stack([np.sin(np.deg2rad(azimuth)), np.cos(np.deg2rad(azimuth))], 1),
        rt60[:, None], np.eye(4)[shape]], 1)
    x = features @ mixing + noise * rng.standard_normal((n, mixing.shape[1]))
    labels = {"azimuth": level, "azimuth_deg": azimuth, "rt60": np.digitize(rt60, [0.45, 0.7,
                                                                                   0.95]),
              "rt60_s": rt60, "shape": shape}
    return x, labels


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    mixing = rng.standard_normal((7, 24))
    parts = {s: synthetic(rng, n, mixing) for s, n in SIZES.items()}
    return {s: p[0] for s, p in parts.items()}, {s: p[1] for s, p in parts.items()}


def test_torch_and_sklearn_protocols_agree(data):
    embeddings, labels = data
    tasks = ("azimuth", "rt60", "shape")
    ours = probe(embeddings, labels, tasks=tasks, n_boot=100)
    theirs = probe(embeddings, labels, tasks=tasks, backend="sklearn", n_boot=100)
    for task in tasks:
        assert abs(ours[task]["accuracy"] - theirs[task]["accuracy"]) <= 0.01
        assert ours[task]["accuracy"] > 2 * ours[task]["chance_accuracy"]
        metric = TASKS[task].regression_metric
        if metric:
            assert ours[task][metric] == pytest.approx(theirs[task][metric], rel=0.02)
            assert ours[task][metric] < 0.5 * ours[task][f"chance_{metric}"]
        low, high = ours[task]["accuracy_ci"]
        assert low <= ours[task]["accuracy"] <= high


def test_results_are_identical_for_the_same_seed(data):
    embeddings, labels = data
    first = probe(embeddings, labels, tasks=("azimuth", "shape"), n_boot=50, seed=3)
    again = probe(embeddings, labels, tasks=("azimuth", "shape"), n_boot=50, seed=3)
    assert first == again
    other = probe(embeddings, labels, tasks=("azimuth",), n_boot=50, seed=4)
    assert other["azimuth"]["accuracy_ci"] != first["azimuth"]["accuracy_ci"]


def test_bad_input_is_refused_clearly(data):
    embeddings, labels = data
    bad = dict(embeddings, test=embeddings["test"][:, :5])
    with pytest.raises(ValueError, match="different dims"):
        probe(bad, labels, tasks=("shape",))
    nan = dict(embeddings, train=embeddings["train"].copy())
    nan["train"][0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        probe(nan, labels, tasks=("shape",))
    short = dict(labels, test=dict(labels["test"], shape=labels["test"]["shape"][:-1]))
    with pytest.raises(ValueError, match="rows"):
        probe(embeddings, short, tasks=("shape",))
    single = dict(labels, train=dict(labels["train"], shape=np.zeros(300, int)))
    with pytest.raises(ValueError, match="single class"):
        probe(embeddings, single, tasks=("shape",))
    with pytest.raises(ValueError, match="task must be one of"):
        probe(embeddings, labels, tasks=("loudness",))
    with pytest.raises(ValueError, match="backend"):
        probe(embeddings, labels, tasks=("shape",), backend="jax")
    largest = int(labels["train"]["shape"].max())
    with pytest.raises(ValueError, match="out of range"):  # would spill into another task
        probe(embeddings, labels, tasks=("shape", "azimuth"), num_classes={"shape": largest})


def _design_labels(split, n):
    specs = design(n, split, seed=1)
    rows = {f: np.array([s.sources[0].levels.get(f, -1) if f in s.sources[0].levels
                         else s.levels[f] for s in specs]) for f in ("azimuth", "rt60",
                                                                     "volume", "shape")}
    rows["azimuth_deg"] = np.array([direction_of(s)[0] for s in specs])
    rows["rt60_s"] = np.array([s.room.rt60_s for s in specs])
    rows["volume_m3"] = np.array([s.room.volume_m3 for s in specs])
    return rows


def test_random_embeddings_stay_near_chance_on_room_tasks():
    rng = np.random.default_rng(5)
    sizes = {"train": 240, "validation": 80, "test": 160}
    labels = {s: _design_labels(s, n) for s, n in sizes.items()}
    embeddings = {s: rng.standard_normal((n, 32)) for s, n in sizes.items()}
    results = probe(embeddings, labels, tasks=ROOM_TASKS, n_boot=200)
    for task in ROOM_TASKS:
        low, _ = results[task]["accuracy_ci"]
        assert low <= results[task]["chance_accuracy"] + 0.02, (task, results[task])


def test_sarl_spatial_decodes_azimuth_from_stereo_scenes(tmp_path):
    bank = ProceduralBank()
    plan = CorpusPlan(scenes=240, formats=("stereo",), duration_s=0.5, multisource_scenes=0,
                      sensitivity_anchors=0, bank=bank.to_dict())
    generate(tmp_path / "corpus", plan, bank, progress=False)
    encoder = load_encoder("sarl-spatial")
    folder = embed_corpus(encoder, tmp_path / "corpus", "stereo", tmp_path / "cache",
                          progress=False).folder
    embeddings, labels = {}, {}
    for split in ("train", "validation", "test"):
        layers, table = load_embeddings(folder, "stereo", split, layer="all")
        embeddings[split] = layers["all"]
        labels[split] = {c: table.column(c).to_numpy() for c in ("azimuth", "azimuth_deg")}
    result = probe(embeddings, labels, tasks=("azimuth",), n_boot=200)["azimuth"]
    # a spaced pair hears left from right but not front from back: well above chance
    assert result["accuracy"] >= 2.5 * result["chance_accuracy"], result
    assert result["accuracy_ci"][0] > result["chance_accuracy"], result


def _xor_layer(rng, n):
    """Features whose class is the sign of x0·x1 (no linear read-out beats chance) and
    whose value is |x0|·x1 (a linear read-out explains none of it)."""
    x = rng.standard_normal((n, 6))
    level = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    rt60 = 1.0 + 0.3 * np.abs(x[:, 0]) * x[:, 1]
    return x, {"shape": level, "rt60": level, "rt60_s": rt60}


def test_mlp_probe_decodes_what_a_linear_probe_cannot():
    rng = np.random.default_rng(0)
    parts = {s: _xor_layer(rng, n) for s, n in (("train", 600), ("validation", 200),
                                                ("test", 200))}
    embeddings = {s: p[0] for s, p in parts.items()}
    labels = {s: p[1] for s, p in parts.items()}
    linear = probe(embeddings, labels, tasks=("shape", "rt60"), n_boot=50)
    mlp = probe(embeddings, labels, tasks=("shape", "rt60"), n_boot=50, model="mlp",
                mlp_hidden=32)
    assert linear["shape"]["accuracy"] < 0.65
    assert mlp["shape"]["accuracy"] > 0.9
    assert mlp["rt60"]["mae_s"] < 0.5 * linear["rt60"]["mae_s"]
    again = probe(embeddings, labels, tasks=("shape", "rt60"), n_boot=50, model="mlp",
                  mlp_hidden=32)
    assert again == mlp  # same seed, same numbers
    with pytest.raises(ValueError, match="torch backend"):
        probe(embeddings, labels, tasks=("shape",), model="mlp", backend="sklearn")
    with pytest.raises(ValueError, match="model must be one of"):
        probe(embeddings, labels, tasks=("shape",), model="forest")
