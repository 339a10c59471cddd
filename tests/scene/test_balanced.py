"""Tests for sarl_hf.scene.balanced, sarl_hf.scene.factors and sarl_hf.scene.variants."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pytest

from sarl_hf.acoustics.rooms import SHAPES, floor_polygon
from sarl_hf.scene.balanced import design
from sarl_hf.scene.factors import (FACTORS, ROOM_FACTORS, SOURCE_FACTORS, FactorConfig,
                                   balanced_levels)
from sarl_hf.scene.placement import is_legal, place
from sarl_hf.scene.spec import ListenerSpec, RoomSpec, SceneSpec, SourceSpec
from sarl_hf.scene.variants import sensitivity_design
from sarl_hf.sources import ProceduralBank
from sarl_hf.splits import SPLITS

BANK = ProceduralBank()
CLASSES = BANK.classes
CONFIG = FactorConfig()


def all_levels(spec, source_index=0) -> dict:
    """Nominal level of every factor: the source's and the room's."""
    return {**spec.sources[source_index].levels, **spec.levels}


def level_counts(specs, factor, source_index=0) -> list[int]:
    n_levels = len(CONFIG.levels(factor, CLASSES))
    counts = Counter(all_levels(s, source_index)[factor] for s in specs)
    assert set(counts) <= set(range(n_levels))
    return [counts.get(k, 0) for k in range(n_levels)]


def assert_balanced(specs, factor, source_index=0):
    counts = level_counts(specs, factor, source_index)
    n, n_levels = len(specs), len(counts)
    assert sum(counts) == n
    assert max(counts) - min(counts) <= 1, (factor, counts)
    assert min(counts) == n // n_levels, (factor, counts)


def angle_diff(a, b):
    return (np.asarray(a) - np.asarray(b) + 180.0) % 360.0 - 180.0


@pytest.fixture(scope="module")
def splits():
    """n -> split -> specs, default config, seed 5."""
    return {n: {split: design(n, split=split, seed=5, duration_s=0.5) for split in SPLITS}
            for n in (37, 50)}


# --- balance and exact values --------------------------------------------------------------

@pytest.mark.parametrize("n", [37, 50])
def test_every_level_of_every_factor_is_balanced_per_split(splits, n):
    for split, specs in splits[n].items():
        assert len(specs) == n
        for factor in FACTORS:
            assert_balanced(specs, factor)


@pytest.mark.parametrize("n", [37, 50])
def test_specs_validate_and_values_match_levels(splits, n):
    for split, specs in splits[n].items():
        for spec in specs:
            spec.validate()
            assert is_legal(spec.room, spec.listener, spec.sources, CONFIG)
            assert spec.split == split and spec.channel_format == "mono"
            assert spec.duration_s == 0.5 and spec.sample_rate == 16000
            source = spec.sources[0]
            lv = all_levels(spec)
            assert set(lv) == set(FACTORS)
            # azimuth inside its 45° sector centred on k * 45°
            assert abs(angle_diff(source.azimuth_deg, lv["azimuth"] * 45.0)) <= 22.5 + 1e-9
            assert 0.0 <= source.azimuth_deg < 360.0
            assert source.elevation_deg == CONFIG.elevation_levels_deg[lv["elevation"]]
            assert source.distance_m == CONFIG.distance_levels_m[lv["distance"]]
            assert source.class_name == CLASSES[lv["class"]]
            assert source.clip_id in BANK.clip_ids(split, source.class_name)
            assert spec.room.rt60_s == CONFIG.rt60_levels_s[lv["rt60"]]
            nominal = CONFIG.volume_levels_m3[lv["volume"]]
            assert 0.9 * nominal * (1 - 1e-6) <= spec.room.volume_m3 <= 1.1 * nominal * (1 + 1e-6)
            assert spec.room.shape == CONFIG.shapes[lv["shape"]]
            assert (CONFIG.height_range_m[0] <= spec.room.height_m
                    <= CONFIG.height_range_m[1])
            assert (CONFIG.listener_height_range_m[0] - 1e-6 <= spec.listener.position_m[2]
                    <= CONFIG.listener_height_range_m[1] + 1e-6)


def test_azimuths_spread_over_their_sectors(splits):
    """The exact azimuth is jittered inside the sector, not pinned to its centre."""
    offsets = [angle_diff(s.sources[0].azimuth_deg, s.sources[0].levels["azimuth"] * 45.0)
               for s in splits[50]["train"]]
    assert np.std(offsets) > 5.0
    assert min(offsets) < -5.0 and max(offsets) > 5.0


def test_splits_use_disjoint_clips_and_ids(splits):
    for n in (37, 50):
        clips = {split: {src.clip_id for s in specs for src in s.sources}
                 for split, specs in splits[n].items()}
        ids = {split: {s.scene_id for s in specs} for split, specs in splits[n].items()}
        seeds = {split: {s.seed for s in specs} for split, specs in splits[n].items()}
        for a in SPLITS:
            assert len(ids[a]) == n
            assert len(seeds[a]) == n
            for b in SPLITS:
                if a < b:
                    assert not clips[a] & clips[b], (a, b)
                    assert not ids[a] & ids[b]
                    assert not seeds[a] & seeds[b]


def test_design_is_deterministic_by_seed(splits):
    again = design(37, split="test", seed=5, duration_s=0.5)
    assert [s.to_dict() for s in again] == [s.to_dict() for s in splits[37]["test"]]
    other = design(37, split="test", seed=6, duration_s=0.5)
    assert [s.to_dict() for s in other] != [s.to_dict() for s in again]
    differing = sum(a.room != b.room or a.sources != b.sources for a, b in zip(other, again))
    assert differing > 30


def test_design_copies_format_rate_and_duration():
    specs = design(5, split="train", seed=1, channel_format="foa", sample_rate=22050,
                   duration_s=1.25)
    assert all(s.channel_format == "foa" and s.sample_rate == 22050 and s.duration_s == 1.25
               for s in specs)
    mono = design(5, split="train", seed=1, sample_rate=22050, duration_s=1.25)
    assert [s.with_format("foa") for s in mono] == specs  # format does not touch geometry


def test_two_sources_have_distinct_classes_and_balanced_levels():
    # big rooms: any two source positions fit, so this checks balance, not placement
    config = FactorConfig(volume_levels_m3=(200.0, 500.0))
    for split in ("train", "test"):
        specs = design(37, split=split, seed=2, factors=config, num_sources=2)
        assert len(specs) == 37
        for spec in specs:
            spec.validate()
            assert len(spec.sources) == 2
            assert spec.sources[0].class_name != spec.sources[1].class_name
            assert spec.sources[0].clip_id != spec.sources[1].clip_id
            for source in spec.sources:
                assert source.class_name == CLASSES[source.levels["class"]]
                assert source.distance_m == config.distance_levels_m[source.levels["distance"]]
        for j in (0, 1):
            for factor in ("azimuth", "elevation", "distance"):
                counts = Counter(s.sources[j].levels[factor] for s in specs)
                n_levels = len(config.levels(factor))
                values = [counts.get(k, 0) for k in range(n_levels)]
                assert max(values) - min(values) <= 1, (j, factor, values)
        counts = Counter(s.sources[0].levels["class"] for s in specs)
        values = [counts.get(k, 0) for k in range(len(CLASSES))]
        assert max(values) - min(values) <= 1, (0, "class", values)


def test_two_sources_second_class_is_balanced():
    config = FactorConfig(volume_levels_m3=(200.0, 500.0))
    for split in ("train", "test"):
        specs = design(37, split=split, seed=2, factors=config, num_sources=2)
        counts = Counter(s.sources[1].levels["class"] for s in specs)
        values = [counts.get(k, 0) for k in range(len(CLASSES))]
        assert max(values) - min(values) <= 1, (split, values)


def test_two_sources_with_default_factors():
    specs = design(24, split="train", seed=0, num_sources=2)
    assert len(specs) == 24 and all(len(s.sources) == 2 for s in specs)


def test_the_failing_two_source_scene_has_a_legal_placement():
    """The placement design(24, 'train', seed=0, num_sources=2) gives up on exists."""
    s1 = SourceSpec(238.48813, 0.0, 2.0, "drum", "procedural/drum/train/0008")
    s2 = SourceSpec(67.022063, 20.0, 2.0, "vowel", "procedural/vowel/train/0013")
    length, width = 4.65, 2.58
    room = RoomSpec("shoebox", [[0, 0], [length, 0], [length, width], [0, width]], 2.5, 0.45)
    assert room.volume_m3 == pytest.approx(30.0, rel=0.01)
    found = place([s1, s2], CONFIG, np.random.default_rng(0), room=room)
    assert found is not None
    assert is_legal(found[0], found[1], [s1, s2], CONFIG)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n=0), r"\bn\b"),
    (dict(n=-3), r"\bn\b"),
    (dict(n=4, split="dev"), r"split"),
    (dict(n=4, channel_format="5.1"), r"channel_format"),
    (dict(n=4, num_sources=0), r"num_sources"),
    (dict(n=4, num_sources=len(CLASSES) + 1), r"num_sources"),
])
def test_bad_design_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        design(**kwargs)


# --- geometric corners ---------------------------------------------------------------------

def test_three_metre_sources_at_40_degrees_fit_a_30_m3_room():
    config = FactorConfig(volume_levels_m3=(30.0,), distance_levels_m=(3.0,),
                          elevation_levels_deg=(-40.0, 40.0), volume_jitter=0.0)
    rise = 3.0 * np.sin(np.deg2rad(40.0))
    for split in SPLITS:
        specs = design(24, split=split, seed=3, factors=config)
        assert len(specs) == 24
        counts = Counter(s.sources[0].elevation_deg for s in specs)
        assert counts == {-40.0: 12, 40.0: 12}
        for spec in specs:
            spec.validate()
            assert is_legal(spec.room, spec.listener, spec.sources, config)
            assert spec.room.volume_m3 == pytest.approx(30.0, rel=1e-4)
            assert spec.sources[0].distance_m == 3.0
            z = spec.listener.position_m[2]
            source_z = spec.source_positions_m()[0, 2]
            assert source_z == pytest.approx(z + rise * np.sign(spec.sources[0].elevation_deg))
            assert config.wall_margin_m - 1e-9 <= source_z <= spec.room.height_m - 0.3 + 1e-9
            if spec.sources[0].elevation_deg < 0:  # listener raised for a low source
                assert z >= rise + config.wall_margin_m - 1e-9
            else:  # room tall enough for a high source
                assert spec.room.height_m >= z + rise + config.wall_margin_m - 1e-9


IMPOSSIBLE = FactorConfig(height_range_m=(2.5, 2.6), elevation_levels_deg=(40.0,),
                          distance_levels_m=(3.0,))


def test_impossible_heights_raise():
    # a source 1.93 m above an ear at >= 1 m, 0.3 m below the ceiling: needs >= 3.23 m
    with pytest.raises((ValueError, RuntimeError)):
        design(4, split="train", factors=IMPOSSIBLE)


def test_impossible_heights_raise_a_clear_value_error():
    with pytest.raises(ValueError, match=r"height_range_m"):
        design(4, split="train", factors=IMPOSSIBLE)


def test_place_in_a_given_room_moves_only_the_listener():
    rng = np.random.default_rng(0)
    room = RoomSpec("l_shaped", floor_polygon("l_shaped", 40.0, rng).tolist(), 3.0, 0.6)
    sources = [SourceSpec(100.0, 20.0, 2.0, "bell", "procedural/bell/train/0000")]
    found = place(sources, CONFIG, np.random.default_rng(1), room=room)
    assert found is not None
    got_room, listener = found
    assert got_room is room
    assert is_legal(room, listener, sources, CONFIG)
    SceneSpec(room=room, listener=listener, sources=sources).validate()
    # a source that cannot fit this small room at all
    assert place([SourceSpec(0.0, 0.0, 30.0, "bell", "procedural/bell/train/0000")], CONFIG,
                 np.random.default_rng(1), room=room) is None


def test_is_legal_rejects_bad_positions():
    room = RoomSpec("shoebox", [[0, 0], [6, 0], [6, 5], [0, 5]], 3.0, 0.5)
    source = SourceSpec(0.0, 0.0, 2.0, "bell", "procedural/bell/train/0000")
    assert is_legal(room, ListenerSpec([2.0, 2.5, 1.5], 0.0), [source], CONFIG)
    assert not is_legal(room, ListenerSpec([2.0, 2.5, 1.5], 180.0), [source], CONFIG)  # wall
    assert not is_legal(room, ListenerSpec([0.2, 2.5, 1.5], 0.0), [source], CONFIG)  # margin
    assert not is_legal(room, ListenerSpec([2.0, 2.5, 2.8], 0.0), [source], CONFIG)  # ceiling
    high = SourceSpec(0.0, 60.0, 2.0, "bell", "procedural/bell/train/0000")
    assert not is_legal(room, ListenerSpec([2.0, 2.5, 1.5], 0.0), [high], CONFIG)
    # an L-shaped room: both points inside, direct path through the re-entrant corner
    lroom = RoomSpec("l_shaped", [[0, 0], [6, 0], [6, 3], [3, 3], [3, 6], [0, 6]], 3.0, 0.5)
    hidden = SourceSpec(135.0, 0.0, float(np.hypot(3, 3)), "bell", "procedural/bell/train/0000")
    assert not is_legal(lroom, ListenerSpec([5.5, 2.5, 1.5], 0.0), [hidden], CONFIG)
    assert is_legal(lroom, ListenerSpec([2.5, 2.5, 1.5], 0.0), [
        SourceSpec(90.0, 0.0, 3.0, "bell", "procedural/bell/train/0000")], CONFIG)


# --- factors -------------------------------------------------------------------------------

def test_balanced_levels_counts_and_prefixes():
    rng = np.random.default_rng(0)
    for num_levels in (1, 2, 3, 4, 5, 7, 8, 12):
        for n in (1, 2, 5, 7, 11, 12, 13, 37, 50, 97):
            seq = balanced_levels(n, num_levels, rng)
            assert seq.shape == (n,)
            assert np.issubdtype(seq.dtype, np.integer)
            assert seq.min() >= 0 and seq.max() < num_levels
            counts = np.bincount(seq, minlength=num_levels)
            assert counts.max() - counts.min() <= 1, (n, num_levels, counts)
            assert counts.min() == n // num_levels
            for k in range(1, n + 1):
                prefix = np.bincount(seq[:k], minlength=num_levels)
                assert prefix.max() - prefix.min() <= 1, (n, num_levels, k)


def test_balanced_levels_is_random_but_seeded():
    a = balanced_levels(40, 5, np.random.default_rng(1))
    b = balanced_levels(40, 5, np.random.default_rng(1))
    c = balanced_levels(40, 5, np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, np.tile(np.arange(5), 8))  # not just cycling in order


def test_balanced_levels_rejects_no_levels():
    with pytest.raises(ValueError, match="num_levels"):
        balanced_levels(5, 0, np.random.default_rng(0))


def test_balanced_levels_of_length_zero():
    assert balanced_levels(0, 3, np.random.default_rng(0)).shape == (0,)
    with pytest.raises(ValueError, match=r"\bn\b"):
        balanced_levels(-1, 3, np.random.default_rng(0))


def test_factor_config_levels_and_checks():
    assert CONFIG.levels("azimuth") == [k * 45.0 for k in range(8)]
    assert CONFIG.levels("class", CLASSES) == list(CLASSES)
    assert CONFIG.levels("shape") == list(SHAPES)
    assert CONFIG.level_names("distance") == ["0.5m", "1m", "2m", "3m"]
    assert FactorConfig.from_dict(CONFIG.to_dict()) == CONFIG
    assert FactorConfig(volume_levels_m3=[30, 80]).volume_levels_m3 == (30, 80)
    assert set(SOURCE_FACTORS) | set(ROOM_FACTORS) == set(FACTORS)
    with pytest.raises(ValueError, match="factor"):
        CONFIG.levels("loudness")
    with pytest.raises(ValueError, match="shapes"):
        FactorConfig(shapes=("dome",))
    with pytest.raises(ValueError, match="azimuth_sectors"):
        FactorConfig(azimuth_sectors=1)
    with pytest.raises(ValueError, match="distance_levels_m"):
        FactorConfig(distance_levels_m=(0.0, 1.0))
    with pytest.raises(ValueError, match="elevation_levels_deg"):
        FactorConfig(elevation_levels_deg=(100.0,))


# --- sensitivity design --------------------------------------------------------------------

N_ANCHORS = 4


@pytest.fixture(scope="module", params=[0, 3])
def sensitivity(request):
    seed = request.param
    anchors = {a.scene_id: a for a in design(N_ANCHORS, split="test", seed=seed)}
    variants = sensitivity_design(N_ANCHORS, seed=seed)
    groups = defaultdict(list)
    for v in variants:
        groups[(v.variant["anchor"], v.variant["factor"])].append(v)
    return anchors, variants, groups


def test_sensitivity_groups_have_one_spec_per_level(sensitivity):
    anchors, variants, groups = sensitivity
    assert set(groups) == {(a, f) for a in anchors for f in FACTORS}
    for (anchor_id, factor), group in groups.items():
        n_levels = len(CONFIG.levels(factor, CLASSES))
        assert [v.variant["level"] for v in group] == list(range(n_levels))
    assert len({v.scene_id for v in variants}) == len(variants)
    assert len(variants) == N_ANCHORS * sum(len(CONFIG.levels(f, CLASSES)) for f in FACTORS)


def test_sensitivity_variants_change_exactly_one_factor(sensitivity):
    anchors, variants, groups = sensitivity
    for (anchor_id, factor), group in groups.items():
        anchor = anchors[anchor_id]
        anchor_levels = all_levels(anchor)
        for v in group:
            levels = all_levels(v)
            assert levels[factor] == v.variant["level"]
            assert {f: x for f, x in levels.items() if f != factor} == \
                {f: x for f, x in anchor_levels.items() if f != factor}
            assert v.seed == anchor.seed
            assert v.split == anchor.split and v.channel_format == anchor.channel_format
            assert v.duration_s == anchor.duration_s and v.sample_rate == anchor.sample_rate
            src, a_src = v.sources[0], anchor.sources[0]
            if factor != "class":
                assert src.clip_id == a_src.clip_id
                assert src.class_name == a_src.class_name
            else:
                assert src.class_name == CLASSES[v.variant["level"]]
                old = BANK.clip_ids("test", a_src.class_name)
                new = BANK.clip_ids("test", src.class_name)
                assert src.clip_id == new[old.index(a_src.clip_id) % len(new)]
            # the exact source values move only for their own factor, keeping the jitter
            if factor != "azimuth":
                assert src.azimuth_deg == a_src.azimuth_deg
            else:
                offset = angle_diff(src.azimuth_deg, v.variant["level"] * 45.0)
                a_offset = angle_diff(a_src.azimuth_deg, a_src.levels["azimuth"] * 45.0)
                assert offset == pytest.approx(a_offset, abs=1e-5)
            if factor != "elevation":
                assert src.elevation_deg == a_src.elevation_deg
            else:
                assert src.elevation_deg == CONFIG.elevation_levels_deg[v.variant["level"]]
            if factor != "distance":
                assert src.distance_m == a_src.distance_m
            else:
                assert src.distance_m == CONFIG.distance_levels_m[v.variant["level"]]
            if factor in ROOM_FACTORS:
                assert v.sources == anchor.sources


def test_sensitivity_room_factors_move_only_their_property(sensitivity):
    anchors, variants, groups = sensitivity
    for (anchor_id, factor), group in groups.items():
        anchor = anchors[anchor_id]
        for v in group:
            level = v.variant["level"]
            if factor == "rt60":
                assert v.room.floor_m == anchor.room.floor_m
                assert v.room.height_m == anchor.room.height_m
                assert v.room.shape == anchor.room.shape
                assert v.listener == anchor.listener
                assert v.room.rt60_s == CONFIG.rt60_levels_s[level]
                assert v.variant["placement"] == "anchor"
            else:
                assert v.room.rt60_s == anchor.room.rt60_s
            if factor == "volume":
                ratio = CONFIG.volume_levels_m3[level] / CONFIG.volume_levels_m3[
                    anchor.levels["volume"]]
                assert v.room.volume_m3 / anchor.room.volume_m3 == pytest.approx(ratio, rel=1e-4)
                assert v.room.shape == anchor.room.shape
            elif factor == "shape":
                assert v.room.shape == CONFIG.shapes[level]
                assert v.room.volume_m3 == pytest.approx(anchor.room.volume_m3, rel=1e-4)
            elif factor in SOURCE_FACTORS and v.variant["placement"] != "new_room":
                assert v.room == anchor.room


def test_sensitivity_source_factors_keep_the_listener(sensitivity):
    anchors, variants, groups = sensitivity
    seen = Counter()
    for (anchor_id, factor), group in groups.items():
        placements = {v.variant["placement"] for v in group}
        assert len(placements) == 1
        placement = placements.pop()
        seen[placement] += 1
        assert placement in ("anchor", "shared", "per_variant", "new_room")
        if factor in SOURCE_FACTORS and placement in ("anchor", "shared"):
            assert all(v.listener == group[0].listener for v in group)
            assert all(v.room == anchors[anchor_id].room for v in group)
        if placement == "anchor":
            anchor = anchors[anchor_id]
            if factor in SOURCE_FACTORS or factor == "rt60":
                assert all(v.listener == anchor.listener for v in group)
            # the variant at the anchor's own level is the anchor itself
            own = group[all_levels(anchor)[factor]]
            assert own.room == anchor.room and own.listener == anchor.listener
            assert own.sources == anchor.sources and own.levels == anchor.levels
    assert seen["anchor"] > 0


def test_sensitivity_variants_validate(sensitivity):
    anchors, variants, groups = sensitivity
    for v in variants:
        v.validate()
        assert is_legal(v.room, v.listener, v.sources, CONFIG)
        assert v.variant["anchor"] in anchors
        assert v.scene_id == f"{v.variant['anchor']}-{v.variant['factor']}-{v.variant['level']}"


def test_sensitivity_is_deterministic_and_restricted_to_vary():
    a = sensitivity_design(2, seed=1, vary=("rt60", "distance"))
    b = sensitivity_design(2, seed=1, vary=("rt60", "distance"))
    assert [s.to_dict() for s in a] == [s.to_dict() for s in b]
    assert {s.variant["factor"] for s in a} == {"rt60", "distance"}
    assert len(a) == 2 * (5 + 4)


def test_sensitivity_unknown_factor():
    with pytest.raises(ValueError, match="vary"):
        sensitivity_design(2, vary=("azimuth", "loudness"))


@pytest.mark.parametrize("n", [1, 2, 5])
def test_few_scenes_with_three_sources_get_distinct_balanced_classes(n):
    specs = design(n, split="validation", seed=4, num_sources=3)
    for spec in specs:
        classes = [s.class_name for s in spec.sources]
        assert len(set(classes)) == 3
    for j in range(3):
        counts = np.bincount([s.sources[j].levels["class"] for s in specs], minlength=12)
        assert counts.max() - counts.min() <= 1


def test_id_prefix_names_the_design():
    specs = design(3, split="test", seed=2, id_prefix="multisource-")
    assert [s.scene_id for s in specs] == [f"multisource-test-2-{i:06d}" for i in range(3)]
