"""Sensitivity analysis: ratios, intervals and curves on synthetic and rendered variants."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sarl_hf.probing.sensitivity_analysis import anchor_levels, sensitivity, unrelated_pairs

AZIMUTHS, CLASSES = 8, 4


def synthetic(n_anchors=30, dim=16, seed=0):
    """Variants whose embedding turns with the azimuth level (a circle in two dims, radius
    3) on top of a random anchor vector; the class level moves nothing but small noise."""
    rng = np.random.default_rng(seed)
    rows = {"x": [], "anchor": [], "factor": [], "level": [], "own": []}

    def add(anchor, factor, level, own, vector):
        for key, value in zip(rows, (vector, anchor, factor, level, own)):
            rows[key].append(value)

    for a in range(n_anchors):
        base = rng.normal(0, 0.3, dim)
        azimuth, cls = rng.integers(AZIMUTHS), rng.integers(CLASSES)

        def at(k):
            angle = 2 * np.pi * k / AZIMUTHS
            return base + 3 * np.eye(dim)[0] * np.cos(angle) + 3 * np.eye(dim)[1] * np.sin(angle)

        for k in range(AZIMUTHS):
            add(f"a{a}", "azimuth", k, azimuth, at(k) + rng.normal(0, 0.05, dim))
        for k in range(CLASSES):
            add(f"a{a}", "class", k, cls, at(azimuth) + rng.normal(0, 0.05, dim))
    return (np.array(rows["x"], np.float32), np.array(rows["anchor"]), np.array(rows["factor"]),
            np.array(rows["level"]), np.array(rows["own"]))


@pytest.fixture(scope="module")
def data():
    return synthetic()


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_a_moving_factor_is_sensitive_and_an_inert_one_is_not(data, metric):
    result = sensitivity(*data, metric=metric, n_boot=300)
    moving, inert = result["azimuth"], result["class"]
    # the azimuth alone moves the embedding about as far as a whole new scene
    assert 0.8 < moving["ratio"] < 1.2 and inert["ratio"] < 0.1
    assert inert["interval"][1] < moving["interval"][0]
    for r in (moving, inert):
        low, high = r["interval"]
        assert low <= r["ratio"] <= high
        assert r["n_anchors"] == 30 and r["metric"] == metric
    assert moving["n_variant_pairs"] == 30 * AZIMUTHS * (AZIMUTHS - 1) // 2
    assert moving["unrelated_distance"] == inert["unrelated_distance"] > 0


def test_the_curve_of_a_circular_factor_rises_then_falls(data):
    curve = sensitivity(*data, n_boot=0)["azimuth"]["curve"]
    assert curve["offset"] == list(range(AZIMUTHS))  # 0°, 45°, ... 315° from the anchor
    ratio = np.array(curve["ratio"])
    assert ratio[0] == 0 and curve["n_anchors"] == [30] * AZIMUTHS
    assert (np.diff(ratio[:5]) > 0).all() and (np.diff(ratio[4:]) < 0).all()
    np.testing.assert_allclose(ratio[1:4], ratio[7:4:-1], rtol=0.05)  # symmetric
    inert = sensitivity(*data, n_boot=0)["class"]
    assert inert["curve"]["offset"] == list(range(-CLASSES + 1, CLASSES))  # not circular
    assert len(inert["by_level"]["ratio"]) == CLASSES
    assert max(inert["curve"]["ratio"]) < 0.1


def test_same_seed_same_result_and_plain_json(data):
    one = sensitivity(*data, n_boot=200, seed=3, max_pairs=500)
    two = sensitivity(*data, n_boot=200, seed=3, max_pairs=500)
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)
    assert json.loads(json.dumps(one)) == one  # plain floats, ints, lists, dicts
    assert one["azimuth"]["n_unrelated_pairs"] == 500
    other = sensitivity(*data, n_boot=200, seed=4, max_pairs=500)
    assert other["azimuth"]["interval"] != one["azimuth"]["interval"]


def test_unrelated_pairs_cross_anchors_all_or_sampled():
    codes = np.repeat(np.arange(3), 4)
    i, j = unrelated_pairs(codes, 1000, np.random.default_rng(0))
    assert len(i) == 3 * 16 and (codes[i] != codes[j]).all()  # every cross pair
    codes = np.repeat(np.arange(50), 40)  # 2000 rows: sampled
    i, j = unrelated_pairs(codes, 300, np.random.default_rng(0))
    assert len(i) == 300 and (codes[i] != codes[j]).all()
    again = unrelated_pairs(codes, 300, np.random.default_rng(0))
    assert (again[0] == i).all() and (again[1] == j).all()


def test_bad_input_is_a_clear_value_error(data):
    x, anchors, factors, levels, own = data
    with pytest.raises(ValueError, match="anchor_ids has shape"):
        sensitivity(x, anchors[:-1], factors, levels, own)
    with pytest.raises(ValueError, match="embeddings contain NaN"):
        sensitivity(np.where(np.arange(len(x))[:, None] == 3, np.nan, x), anchors, factors,
                    levels, own)
    with pytest.raises(ValueError, match="levels must be"):
        sensitivity(x, anchors, factors, np.where(levels == 1, np.nan, levels), own)
    keep = ~((anchors == "a0") & (factors == "class") & (levels != own))
    with pytest.raises(ValueError, match="has one variant"):
        sensitivity(x[keep], anchors[keep], factors[keep], levels[keep], own[keep])
    with pytest.raises(ValueError, match="two variants of one anchor at one level"):
        sensitivity(x, anchors, factors, np.where(levels == 2, 1, levels), own)
    with pytest.raises(ValueError, match="no variant at its own level"):
        sensitivity(x, anchors, factors, levels, np.full_like(own, 9))
    with pytest.raises(ValueError, match="differs within a group"):
        sensitivity(x, anchors, factors, levels, np.arange(len(own)) % 2)
    with pytest.raises(ValueError, match="at least 2 anchors"):
        first = anchors == "a0"
        sensitivity(x[first], anchors[first], factors[first], levels[first], own[first])
    with pytest.raises(ValueError, match="metric must be"):
        sensitivity(*data, metric="manhattan")
    with pytest.raises(ValueError, match="row of zeros"):
        sensitivity(np.where(np.arange(len(x))[:, None] == 0, 0.0, x), anchors, factors,
                    levels, own)
    with pytest.raises(ValueError, match="empty variant_factor"):
        sensitivity(x, anchors, np.where(factors == "class", "", factors), levels, own)


def test_anchor_levels_are_read_from_the_other_factors_variants():
    labels = {"anchor_id": ["a", "a", "a", "a", "b", "b", "b", "b"],
              "variant_factor": ["azimuth", "azimuth", "class", "class"] * 2,
              "azimuth": [0, 1, 1, 1, 0, 1, 0, 0], "class": [2, 2, 0, 1, 3, 3, 0, 1]}
    assert anchor_levels(labels).tolist() == [1, 1, 2, 2, 0, 0, 3, 3]
    labels["class"][1] = 0  # an azimuth variant that changed the class too
    with pytest.raises(ValueError, match="anchor_levels yourself"):
        anchor_levels(labels)
    one = {k: v[:2] for k, v in labels.items()}  # anchor varies no other factor
    with pytest.raises(ValueError, match="anchor_levels yourself"):
        anchor_levels(one)


# --- end to end: generated corpus, sarl-spatial, the cache ----------------------------------

@pytest.fixture(scope="module")
def spatial_cache(tiny_corpus, tmp_path_factory):
    from sarl_hf.embeddings.embed import embed_corpus
    from sarl_hf.encoders import load_encoder

    report = embed_corpus(load_encoder("sarl-spatial"), tiny_corpus, "sensitivity",
                          tmp_path_factory.mktemp("sensitivity"), splits=("test",),
                          channel_format="stereo", progress=False)
    return report.folder


def test_anchor_levels_point_at_the_anchor_scene_itself(spatial_cache):
    """Where no listener moved, a group's own-level variant is the anchor: same audio,
    same embedding, in every factor's group."""
    from sarl_hf.embeddings.cache import load_embeddings

    embeddings, labels = load_embeddings(spatial_cache, "sensitivity", "test", "all", "stereo")
    x, own = embeddings["all"], anchor_levels(labels)
    rows = labels.to_pylist()
    for anchor in {r["anchor_id"] for r in rows}:
        same = [k for k, r in enumerate(rows) if r["anchor_id"] == anchor
                and r["variant_level"] == own[k]
                and json.loads(r["spec"])["variant"]["placement"] == "anchor"]
        assert len(same) >= 3
        np.testing.assert_allclose(x[same], np.repeat(x[same[:1]], len(same), 0), atol=1e-5)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_spatial_cues_move_with_azimuth_more_than_with_class(spatial_cache, metric):
    from sarl_hf.probing.sensitivity_analysis import sensitivity_from_cache

    result = sensitivity_from_cache(spatial_cache, "stereo", metric=metric)
    assert {"energy", "gcc_phat", "all"} <= set(result)
    gcc = result["gcc_phat"]
    assert set(gcc) == {"azimuth", "elevation", "distance", "class", "rt60", "volume", "shape"}
    assert gcc["azimuth"]["ratio"] > gcc["class"]["ratio"]
    assert gcc["azimuth"]["curve"]["offset"] == list(range(8))
    one = sensitivity_from_cache(spatial_cache, "stereo", layer="gcc_phat", metric=metric)
    assert json.dumps(one) == json.dumps({"gcc_phat": gcc})


def test_a_layer_whose_unrelated_scenes_never_differ_has_no_ratio():
    """One positive dimension under cosine (Silero VAD's speech probability): every
    distance is 0, so the ratio is undefined (NaN), not a ZeroDivisionError."""
    from sarl_hf.probing.sensitivity_analysis import sensitivity

    rng = np.random.default_rng(0)
    anchors = np.repeat(np.arange(4).astype(str), 3)
    factors = np.array(["rt60"] * 12)
    levels = np.tile(np.arange(3), 4)
    x = rng.uniform(0.1, 1.0, (12, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        result = sensitivity(x, anchors, factors, levels, levels * 0, n_boot=10)
    assert np.isnan(result["rt60"]["ratio"]) and result["rt60"]["unrelated_distance"] == 0
