"""The reference encoders sarl-logmel and sarl-spatial: AutoModel round trip, documented
shapes, padding invariance, and physics (no fitting: signs and angles from geometry)."""

import numpy as np
import pytest
import torch
import transformers
from conftest import make_scene, needs_sofa

from sarl_hf import Renderer, design
from sarl_hf.acoustics.formats import STEREO_SPACING_M
from sarl_hf.acoustics.rooms import SPEED_OF_SOUND_M_S
from sarl_hf.encoders.reference import (LogMelEncoder, SarlLogMelConfig, SarlLogMelModel,
                                        SarlSpatialConfig, SarlSpatialModel, SpatialEncoder,
                                        format_feature_extractor, register_auto_classes)

FS = 16000
CHANNELS = {"mono": 1, "stereo": 2, "binaural": 2, "foa": 4, "mic4": 4}


@pytest.fixture(scope="module")
def renderer():
    return Renderer()


def noise(channels, samples, seed=0):
    return np.random.default_rng(seed).standard_normal((channels, samples)).astype(np.float32)


def spatial_dims(channels, foa=False, bands=10, lags=65):
    """Layer dims documented in SarlSpatialModel (defaults: 10 bands, 65 lags)."""
    pairs = channels * (channels - 1) // 2
    dims = {"energy": channels * bands * 2}
    if foa:
        dims.update(intensity=(bands + 1) * 3, diffuseness=bands + 1, direct_intensity=3,
                    direct_diffuseness=1)
    elif channels >= 2:
        dims.update(gcc_phat=pairs * lags, delay_ms=pairs, ild_ipd=pairs * bands * 3,
                    coherence=pairs * bands, direct_xcorr=pairs * lags,
                    direct_lag_code=pairs * lags, direct_delay_ms=pairs, direct_ild=pairs)
    dims["all"] = sum(dims.values())
    return dims


@pytest.mark.parametrize("model_class, config", [
    (SarlLogMelModel, SarlLogMelConfig(n_mels=32, channel_mode="per_channel")),
    (SarlSpatialModel, SarlSpatialConfig(n_fft=512, hop_length=128, gcc_interp=4)),
])
def test_save_pretrained_and_automodel_round_trip(tmp_path, model_class, config):
    model = model_class(config)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    register_auto_classes()  # idempotent
    loaded = transformers.AutoModel.from_pretrained(tmp_path)
    assert type(loaded) is model_class
    assert loaded.config.to_diff_dict() == model.config.to_diff_dict()
    assert not any(p.requires_grad for p in loaded.parameters())
    x = torch.from_numpy(np.stack([noise(2, 9000, 1), noise(2, 9000, 2)]))
    mask = torch.ones(2, 9000, dtype=torch.long)
    mask[1, 6000:] = 0
    with torch.no_grad():
        want, got = model(x, attention_mask=mask), loaded(x, attention_mask=mask)
    for a, b in zip(want.hidden_states, got.hidden_states):
        assert torch.equal(a, b)
    assert torch.equal(got.last_hidden_state, got.hidden_states[-1])


@pytest.mark.parametrize("fmt", list(CHANNELS))
def test_documented_shapes(fmt):
    channels = CHANNELS[fmt]
    scenes = [noise(channels, 8000, 0), noise(channels, 5000, 1)]
    foa = fmt == "foa"
    spatial = SpatialEncoder(layout="foa" if foa else None).embed(scenes, FS)
    want = spatial_dims(channels, foa)
    assert {k: v.shape for k, v in spatial.items()} == {k: (2, d) for k, d in want.items()}
    for policy, copies in (("downmix", 1), ("per_channel_concat", channels)):
        logmel = LogMelEncoder(channel_policy=policy).embed(scenes, FS)
        assert list(logmel) == ["logmel_mean", "logmel_std", "logmel_meanstd", "delta_std",
                                "all"]
        dims = [d * 64 * copies for d in (1, 1, 2, 1, 3)]
        assert [v.shape for v in logmel.values()] == [(2, d) for d in dims]
        assert all(v.dtype == np.float32 for v in logmel.values())


def test_encoder_attributes_and_fingerprint():
    logmel, spatial = LogMelEncoder(), SpatialEncoder()
    assert (logmel.name, logmel.num_channels) == ("sarl-logmel", 1)
    assert (spatial.name, spatial.num_channels) == ("sarl-spatial", None)
    assert spatial.layers == tuple(spatial_dims(2))
    assert SpatialEncoder(channel_policy="downmix").layers == ("energy", "all")
    assert SpatialEncoder(layout="foa").layers == tuple(spatial_dims(4, foa=True))
    per_channel = LogMelEncoder(SarlLogMelConfig(channel_mode="per_channel"),
                                channel_policy="native")
    assert per_channel.num_channels is None
    assert logmel.settings()["config"]["n_mels"] == 64
    other = LogMelEncoder(SarlLogMelConfig(n_mels=40))
    assert other.fingerprint() != logmel.fingerprint()
    assert LogMelEncoder().fingerprint() == logmel.fingerprint()
    assert SpatialEncoder(layout="foa").fingerprint() != spatial.fingerprint()


@pytest.mark.parametrize("make", [
    lambda: LogMelEncoder(),
    lambda: LogMelEncoder(SarlLogMelConfig(channel_mode="per_channel"), channel_policy="native"),
    lambda: SpatialEncoder(),
    lambda: SpatialEncoder(layout="foa"),
])
def test_padding_and_batching_never_change_an_embedding(make):
    encoder = make()
    channels = 4 if getattr(encoder, "layout", None) == "foa" else 2
    clip, short = noise(channels, 12345, 1) * 0.1, noise(channels, 300, 2)
    longer = noise(channels, 40000, 3)
    alone, alone_short = encoder.embed([clip], FS), encoder.embed([short], FS)
    batch = encoder.embed([longer, clip, short], FS)
    for layer in encoder.layers:
        np.testing.assert_allclose(batch[layer][1], alone[layer][0], rtol=1e-6, atol=1e-5)
        np.testing.assert_allclose(batch[layer][2], alone_short[layer][0], rtol=1e-6,
                                   atol=1e-5)


def test_masked_samples_are_ignored_whatever_they_hold():
    model = SarlSpatialModel(SarlSpatialConfig())
    x = torch.from_numpy(np.stack([noise(2, 20000, 4), noise(2, 20000, 5)]))
    mask = torch.ones(2, 20000, dtype=torch.long)
    mask[1, 15000:] = 0
    with torch.no_grad():
        padded = model(x, attention_mask=mask).hidden_states
        alone = model(x[1:, :, :15000]).hidden_states
    for a, b in zip(padded, alone):
        torch.testing.assert_close(a[1], b[0], rtol=1e-6, atol=1e-5)


def test_mono_gives_energy_features_only():
    out = SpatialEncoder().embed([noise(1, 8000)], FS)
    assert {k: v.shape for k, v in out.items()} == {"energy": (1, 20), "all": (1, 20)}


def left_right_scenes(renderer, fmt):
    """Hand-made scenes (a vowel, broadband) left (60, 90, 120°) and right (240, 270,
    300°) plus the designed test scenes within 1 m whose azimuth is in (30°, 150°) or
    (210°, 330°)."""
    specs = [make_scene(azimuth_deg=az, rt60_s=0.4, distance_m=1.5, channel_format=fmt,
                        class_name="vowel") for az in (60.0, 90.0, 120.0, 240.0, 270.0, 300.0)]
    specs += [s.with_format(fmt) for s in design(16, split="test", seed=0)
              if s.sources[0].distance_m <= 1.0]
    scenes = [renderer.render(spec) for spec in specs]
    azimuth = np.array([s.labels["azimuth_deg"] for s in scenes])
    side = np.where((azimuth > 30) & (azimuth < 150), 1, 0)
    side = np.where((azimuth > 210) & (azimuth < 330), -1, side)
    keep = side != 0
    return [s for s, k in zip(scenes, keep) if k], side[keep]


def test_stereo_delay_sign_follows_the_source_side(renderer):
    scenes, side = left_right_scenes(renderer, "stereo")
    assert len(scenes) >= 8 and set(side) == {-1, 1}
    out = SpatialEncoder().embed([s.audio for s in scenes], FS)
    delay = out["delay_ms"][:, 0]
    assert np.array_equal(np.sign(delay), side), delay
    lag = out["gcc_phat"].argmax(1) - out["gcc_phat"].shape[1] // 2
    assert np.array_equal(np.sign(lag), side)
    # the hand-made ones (elevation 0, 1.5 m) also match the far-field geometry
    expected = (STEREO_SPACING_M / SPEED_OF_SOUND_M_S * 1e3
                * np.sin(np.radians([s.labels["azimuth_deg"] for s in scenes[:6]])))
    np.testing.assert_allclose(delay[:6], expected, atol=0.1)


@needs_sofa
def test_binaural_delay_and_level_follow_the_source_side(renderer):
    scenes, side = left_right_scenes(renderer, "binaural")
    out = SpatialEncoder().embed([s.audio for s in scenes[:6]], FS)
    assert np.array_equal(np.sign(out["delay_ms"][:, 0]), side[:6])
    ild = out["ild_ipd"].reshape(6, -1, 3)[:, :, 0].mean(1)
    assert np.array_equal(np.sign(ild), side[:6])


def test_foa_intensity_points_at_the_source(renderer):
    azimuths = np.arange(0.0, 360.0, 45.0)
    scenes = [renderer.render(make_scene(azimuth_deg=az, rt60_s=0.2, distance_m=1.0,
                                         channel_format="foa")) for az in azimuths]
    out = SpatialEncoder(layout="foa").embed([s.audio for s in scenes], FS)
    x, y = out["intensity"][:, 0], out["intensity"][:, 1]  # broadband (x, y, z) first
    truth = np.array([s.labels["azimuth_deg"] for s in scenes])
    error = (np.degrees(np.arctan2(y, x)) - truth + 180.0) % 360.0 - 180.0
    assert np.abs(error).max() < 20.0, error
    far = renderer.render(make_scene(azimuth_deg=45.0, rt60_s=1.2, distance_m=3.0,
                                     volume_m3=300.0, channel_format="foa"))
    reverberant = SpatialEncoder(layout="foa").embed([far.audio], FS)["diffuseness"][0, 0]
    assert reverberant > out["diffuseness"][:, 0].max()


def test_bad_inputs_raise_clear_errors(tmp_path):
    foa = SpatialEncoder(layout="foa")
    with pytest.raises(ValueError, match="layout 'foa' needs 4 channels"):
        foa.embed([noise(2, 4000)], FS)
    with pytest.raises(ValueError, match="layout 'foa' needs 4 channels"):
        foa.model(torch.zeros(1, 2, 4000), layout="foa")
    with pytest.raises(ValueError, match="channel_policy 'native'"):
        SpatialEncoder(layout="foa", channel_policy="downmix")
    with pytest.raises(ValueError, match="layout"):
        SpatialEncoder(layout="hoa")
    with pytest.raises(ValueError, match="one channel count"):
        SpatialEncoder().embed([noise(2, 4000), noise(4, 4000)], FS)
    with pytest.raises(ValueError, match="native"):
        LogMelEncoder(channel_policy="native")
    with pytest.raises(ValueError, match="channel_mode"):
        SarlLogMelConfig(channel_mode="stereo")
    with pytest.raises(ValueError, match="band_edges_hz"):
        SarlSpatialModel(SarlSpatialConfig(band_edges_hz=[100.0, 105.0, 200.0]))
    SarlSpatialModel(SarlSpatialConfig()).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="not 'sarl-logmel'"):
        LogMelEncoder(str(tmp_path))


def test_a_folder_for_one_channel_format_names_its_channels(tmp_path):
    binaural = format_feature_extractor("binaural")
    assert (binaural.channel_format, binaural.num_channels, binaural.channel_names) == \
        ("binaural", 2, ["left", "right"])
    SarlSpatialModel(SarlSpatialConfig()).save_pretrained(
        tmp_path, feature_extractor=format_feature_extractor("mic4"))
    loaded = transformers.AutoFeatureExtractor.from_pretrained(tmp_path)
    assert (loaded.channel_format, loaded.channel_names) == ("mic4", ["m1", "m2", "m3", "m4"])
    with pytest.raises(ValueError, match="mic4 audio of 4 channels"):
        loaded(noise(2, 4000), sampling_rate=FS)
    with pytest.raises(ValueError, match="channel_format must be one of"):
        format_feature_extractor("5.1")
