"""Assignment scoring of the multisource config (``sarl_hf.probing.multisource``)."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from sarl_hf.probing.multisource import (angular_errors, best_assignment, decode, level_counts,
                                         level_errors, probe_multisource)

NUM_CLASSES = {"azimuth": 8, "elevation": 5, "distance": 4, "class": 6}


def test_best_assignment_is_the_optimal_assignment():
    rng = np.random.default_rng(0)
    cost = rng.uniform(size=(50, 3, 3))
    expected = [c[linear_sum_assignment(c)].sum() for c in cost]
    np.testing.assert_allclose(best_assignment(cost), expected)


def test_level_errors_ignore_order_and_count_duplicates():
    predicted = np.array([[2, 0, -1], [2, 2, -1], [1, 1, 3], [3, 1, 1]])
    truth = np.array([[0, 2, -1], [2, 0, -1], [1, 3, 1], [1, 3, 3]])
    np.testing.assert_array_equal(level_errors(predicted, truth), [0, 1, 0, 1])


def test_decode_picks_a_level_twice_when_its_count_says_two():
    scores = np.array([[0.2, 1.9, 0.1, 0.0], [0.9, 0.8, 0.1, 0.7]])
    np.testing.assert_array_equal(decode(scores, np.array([2, 3])), [[1, 1, -1], [0, 1, 3]])


def test_angular_errors_use_the_best_pairing_and_wrap():
    predicted = np.array([[0, 2]])  # 4 sectors: centres 0° and 180°
    azimuth = np.array([[170.0, 350.0]])
    np.testing.assert_allclose(angular_errors(predicted, azimuth, 4), [20.0])


def _scenes(n, rng, codes, informative=True, dim=64):
    """Per-source labels of 2-3 source scenes and embeddings that sum one random code per
    (factor, level) over the sources, under noise."""
    sources, x = [], np.zeros((n, dim))
    for i in range(n):
        scene = []
        for _ in range(2 + i % 2):
            levels = {f: int(rng.integers(k)) for f, k in NUM_CLASSES.items()}
            azimuth = (levels["azimuth"] * 45.0 + rng.uniform(-22.5, 22.5)) % 360
            scene.append(dict(levels, azimuth_deg=azimuth))
            if informative:
                x[i] += sum(codes[f][levels[f]] for f in NUM_CLASSES)
        sources.append(scene)
    return x + 0.5 * rng.standard_normal((n, dim)), sources


def _splits(rng, informative=True):
    codes = {f: rng.standard_normal((k, 64)) for f, k in NUM_CLASSES.items()}
    out = {s: _scenes(n, rng, codes, informative) for s, n in
           (("train", 600), ("validation", 200), ("test", 200))}
    return {s: v[0] for s, v in out.items()}, {s: v[1] for s, v in out.items()}


def test_informative_embeddings_decode_every_source_far_above_chance():
    embeddings, sources = _splits(np.random.default_rng(1))
    result = probe_multisource(embeddings, sources, NUM_CLASSES, n_boot=200)
    for factor, metrics in result.items():
        assert metrics["source_accuracy"] > 0.8, factor
        assert metrics["source_accuracy"] > metrics["chance_source_accuracy"] + 0.3, factor
        low, high = metrics["source_accuracy_ci"]
        assert low <= metrics["source_accuracy"] <= high
    assert result["azimuth"]["angular_error_deg"] < 30
    assert result["azimuth"]["chance_angular_error_deg"] > 60


def test_random_embeddings_stay_near_chance_and_backends_agree():
    embeddings, sources = _splits(np.random.default_rng(2), informative=False)
    torch_result = probe_multisource(embeddings, sources, NUM_CLASSES, n_boot=100)
    sklearn_result = probe_multisource(embeddings, sources, NUM_CLASSES, n_boot=100,
                                       backend="sklearn")
    for factor in NUM_CLASSES:
        a, b = torch_result[factor], sklearn_result[factor]
        assert a["source_accuracy"] < a["chance_source_accuracy"] + 0.1, factor
        assert a["alpha"] == b["alpha"], factor
        assert abs(a["source_accuracy"] - b["source_accuracy"]) < 0.01, factor


def test_same_seed_same_result_and_bad_input_refused():
    embeddings, sources = _splits(np.random.default_rng(3))
    first = probe_multisource(embeddings, sources, NUM_CLASSES, n_boot=50, seed=4)
    assert first == probe_multisource(embeddings, sources, NUM_CLASSES, n_boot=50, seed=4)
    with pytest.raises(ValueError, match="factors"):
        probe_multisource(embeddings, sources, NUM_CLASSES, factors=("rt60",))
    broken = dict(embeddings, test=embeddings["test"][:-1])
    with pytest.raises(ValueError, match=r"\['sources'\] has 200 rows, the embeddings 199"):
        probe_multisource(broken, sources, NUM_CLASSES)
    nan = dict(embeddings, train=np.where(embeddings["train"] > 3, np.nan,
                                          embeddings["train"]))
    with pytest.raises(ValueError, match="finite"):
        probe_multisource(nan, sources, NUM_CLASSES)


def test_level_counts_refuses_levels_out_of_range():
    with pytest.raises(ValueError, match="out of range"):
        level_counts(np.array([[0, 4]]), 4)
