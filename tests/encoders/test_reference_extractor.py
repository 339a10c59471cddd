"""The feature extractor of the reference encoders: refusals, padding, saved layout."""

import json

import numpy as np
import pytest
import torch
from transformers import AutoFeatureExtractor

from sarl_hf.encoders.reference import SarlFeatureExtractor
from sarl_hf.encoders.reference import SarlLogMelConfig
from sarl_hf.encoders.reference import SarlLogMelModel
from sarl_hf.encoders.reference import SarlSpatialConfig
from sarl_hf.encoders.reference import SarlSpatialModel

FS = 16000


def noise(channels, samples, seed=0):
    return np.random.default_rng(seed).standard_normal((channels, samples)).astype(np.float32)


def test_clips_of_different_lengths_are_zero_padded_with_a_mask():
    long, short = noise(2, 900, 1), noise(2, 500, 2)
    batch = SarlFeatureExtractor()([long, short], sampling_rate=FS, return_tensors="pt")
    assert batch["input_values"].shape == (2, 2, 900)
    assert batch["input_values"].dtype == torch.float32
    assert batch["attention_mask"].dtype == torch.long
    assert torch.equal(batch["input_values"][0], torch.from_numpy(long))
    assert torch.equal(batch["input_values"][1, :, :500], torch.from_numpy(short))
    assert not batch["input_values"][1, :, 500:].any()
    assert batch["attention_mask"].sum(1).tolist() == [900, 500]


def test_one_clip_a_mono_clip_and_a_3d_batch():
    extractor = SarlFeatureExtractor()
    assert extractor(noise(2, 300), sampling_rate=FS)["input_values"].shape == (1, 2, 300)
    assert extractor(noise(1, 300)[0], sampling_rate=FS)["input_values"].shape == (1, 1, 300)
    stacked = np.stack([noise(4, 300, 1), noise(4, 300, 2)])
    out = extractor(stacked, sampling_rate=FS, return_tensors="np")
    assert out["input_values"].shape == (2, 4, 300) and out["attention_mask"].all()
    float64 = extractor(noise(2, 300).astype(np.float64), sampling_rate=FS)
    assert float64["input_values"].dtype == np.float32


@pytest.mark.parametrize("rate, match", [(None, "sampling_rate is required"),
                                         (44100, "44100 Hz, this model takes 16000 Hz")])
def test_a_missing_or_wrong_sampling_rate_is_refused(rate, match):
    with pytest.raises(ValueError, match=match):
        SarlFeatureExtractor()(noise(2, 300), sampling_rate=rate)


@pytest.mark.parametrize("audio, match", [
    ([noise(2, 300), noise(4, 300)], "one channel count"),
    ([], "no clip"),
    (noise(2, 300).T, "channels first"),
    (np.zeros((2, 0), np.float32), "no sample"),
    (np.full((2, 300), np.nan, np.float32), "NaN or infinite"),
    (np.zeros((2, 3, 4, 5)), "channels, samples"),
    (np.array([["a", "b"]]), "channels, samples"),
    (np.ones((2, 300), complex), "real floating-point"),
    (np.ones((2, 300), np.int16), r"convert integer PCM to floats in \[-1, 1\]"),
    (np.full((2, 300), 1e300), "beyond float32"),
])
def test_garbage_is_refused_in_one_line(audio, match):
    with pytest.raises(ValueError, match=match) as error:
        SarlFeatureExtractor()(audio, sampling_rate=FS)
    assert "\n" not in str(error.value)


def test_torch_tensors_are_taken_and_other_padding_refused():
    extractor = SarlFeatureExtractor()
    audio = torch.randn(2, 300, requires_grad=True)
    out = extractor([audio, audio[:, :200]], sampling_rate=FS, return_tensors="pt")
    assert torch.equal(out["input_values"][0], audio.detach())
    for option in ({"padding": "max_length"}, {"padding": False},
                   {"return_attention_mask": False}):
        with pytest.raises(ValueError, match="padded to the longest"):
            extractor(audio, sampling_rate=FS, **option)
    with pytest.raises(TypeError):
        extractor(audio, sampling_rate=FS, max_length=400)  # not silently ignored


def test_a_fixed_layout_refuses_another_channel_count():
    foa = SarlSpatialModel(SarlSpatialConfig(layout="foa")).feature_extractor()
    assert (foa.channel_format, foa.num_channels, foa.channel_names) == \
        ("foa", 4, ["W", "Y", "Z", "X"])
    with pytest.raises(ValueError, match=r"foa audio of 4 channels \(W, Y, Z, X\), got 2"):
        foa(noise(2, 300), sampling_rate=FS)
    assert foa(noise(4, 300), sampling_rate=FS)["input_values"].shape == (1, 4, 300)


@pytest.mark.parametrize("arguments, match", [
    ({"sampling_rate": 0}, "sampling_rate"), ({"sampling_rate": 16000.5}, "sampling_rate"),
    ({"num_channels": 0}, "num_channels"), ({"channel_format": ""}, "channel_format"),
    ({"num_channels": 3, "channel_names": ["left", "right"]}, "do not match"),
])
def test_bad_settings_are_refused(arguments, match):
    with pytest.raises(ValueError, match=match):
        SarlFeatureExtractor(**arguments)


@pytest.mark.parametrize("model", [
    SarlLogMelModel(SarlLogMelConfig(sample_rate=8000, f_max=4000.0)),
    SarlSpatialModel(SarlSpatialConfig()),
    SarlSpatialModel(SarlSpatialConfig(layout="foa")),
])
def test_save_pretrained_writes_the_rate_and_channel_layout(model, tmp_path):
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "preprocessor_config.json").read_text())
    foa = getattr(model.config, "layout", None) == "foa"
    assert saved["sampling_rate"] == model.config.sample_rate
    layout = ("foa", 4) if foa else ("any", None)
    assert (saved["channel_format"], saved["num_channels"]) == layout
    assert saved["auto_map"] == {"AutoFeatureExtractor": "reference_extractor.SarlFeatureExtractor"}
    loaded = AutoFeatureExtractor.from_pretrained(tmp_path)  # the package's class, registered
    assert type(loaded) is SarlFeatureExtractor
    assert loaded.to_dict() == model.feature_extractor().to_dict() | {"auto_map": saved["auto_map"]}


def test_a_folder_for_one_format_keeps_its_own_extractor(tmp_path):
    binaural = SarlFeatureExtractor(channel_format="binaural", channel_names=["left", "right"])
    SarlSpatialModel(SarlSpatialConfig()).save_pretrained(tmp_path, feature_extractor=binaural)
    loaded = AutoFeatureExtractor.from_pretrained(tmp_path)
    assert (loaded.channel_format, loaded.num_channels) == ("binaural", 2)
    with pytest.raises(ValueError, match="binaural audio of 2 channels"):
        loaded(noise(4, 300), sampling_rate=FS)
