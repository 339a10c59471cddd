"""Multichannel HEAR modules in GRAM's convention: ``in_channels`` (or ``num_channels``),
audio (n, channels, samples) at the model's rate, ``channel_policy="native"``."""

import sys
import textwrap

import numpy as np
import pytest
from conftest import needs_sofa

torch = pytest.importorskip("torch")

from sarl_hf.encoders import load_encoder  # noqa: E402
from sarl_hf.encoders.hear import HEAREncoder  # noqa: E402

#: A binaural HEAR module like GRAM's runtime: 32 kHz, ``in_channels`` from ``load_model``'s
#: keyword options; its embeddings are the level difference of the first two channels and
#: the mean level (dB), so a downmix (no level difference) could never pass.
LEVELS_HEAR = '''
import torch

HOP = 320


class Levels(torch.nn.Module):
    sample_rate = 32000
    scene_embedding_size = timestamp_embedding_size = 2
    channel_layout = "binaural"
    paradigm = "handcrafted"

    def __init__(self, in_channels=2):
        super().__init__()
        self.in_channels = in_channels


def load_model(model_file_path="", **kwargs):
    return Levels(int(kwargs.get("in_channels", 2)))


def _levels(audio):                       # (n, channels, ...) -> dB per channel
    return 10 * torch.log10(audio.pow(2).mean(-1) + 1e-10)


def get_scene_embeddings(audio, model):  # audio: (n, channels, samples)
    assert audio.ndim == 3 and audio.shape[1] == model.in_channels, audio.shape
    level = _levels(audio)
    return torch.stack([level[:, 0] - level[:, 1], level.mean(1)], dim=1)


def get_timestamp_embeddings(audio, model):
    level = _levels(audio.unfold(-1, 2 * HOP, HOP))          # (n, channels, frames)
    frames = torch.stack([level[:, 0] - level[:, 1], level.mean(1)], dim=-1)
    times = (torch.arange(frames.shape[1]) * HOP + HOP) / model.sample_rate * 1000
    return frames, times.expand(len(audio), -1)
'''


@pytest.fixture()
def levels_module(tmp_path, monkeypatch):
    name = f"levels_hear_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(LEVELS_HEAR))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def louder_left(db: float, rate: int = 16000, channels: int = 2, seed: int = 0):
    """Noise (channels, rate) whose first channel is ``db`` louder than the others."""
    rng = np.random.default_rng(seed)
    scene = 0.1 * rng.standard_normal((channels, rate))
    scene[1:] = scene[0]  # same signal, so only the level differs
    scene[0] *= 10 ** (db / 20)
    return scene.astype(np.float32)


def test_the_scene_reaches_the_module_as_channels_at_its_rate(levels_module):
    encoder = HEAREncoder(levels_module, timestamp_mean=True)
    assert (encoder.num_channels, encoder.channel_policy, encoder.sample_rate) == \
        (2, "native", 32000)
    out = encoder.embed([louder_left(6.0), louder_left(-3.0, seed=1)], 16000)
    np.testing.assert_allclose(out["scene"][:, 0], [6.0, -3.0], atol=0.05)
    np.testing.assert_allclose(out["timestamp_mean"][:, 0], [6.0, -3.0], atol=0.05)
    by_name = load_encoder(f"hear:{levels_module}")
    assert by_name.num_channels == 2 and by_name.layers == ("scene",)
    np.testing.assert_allclose(by_name.embed([louder_left(6.0)], 16000)["scene"][0, 0], 6.0,
                               atol=0.05)


def test_channel_count_from_load_options_and_the_num_channels_attribute(levels_module,
                                                                         tmp_path):
    four = HEAREncoder(levels_module, model_options={"in_channels": 4})
    assert four.num_channels == 4
    assert four.embed([louder_left(2.0, channels=4)], 16000)["scene"].shape == (1, 2)
    with pytest.raises(ValueError, match="takes 4 channels, the scene has 2"):
        four.embed([louder_left(2.0)], 16000)
    assert four.fingerprint() != HEAREncoder(levels_module).fingerprint()
    other = tmp_path / "other_levels.py"
    other.write_text(textwrap.dedent(LEVELS_HEAR).replace("self.in_channels", "self.num_channels")
                     .replace("model.in_channels", "model.num_channels"))
    try:
        assert HEAREncoder("other_levels").num_channels == 2
    finally:
        sys.modules.pop("other_levels", None)


def test_a_multichannel_module_refuses_other_channel_policies(levels_module):
    for policy in ("downmix", "per_channel_concat", "channel:0"):
        with pytest.raises(ValueError, match="channel_policy must be 'native'"):
            HEAREncoder(levels_module, channel_policy=policy)
    with pytest.raises(ValueError, match="in_channels must be a positive integer"):
        HEAREncoder(levels_module, model_options={"in_channels": 0})


def test_metadata_names_the_module_and_its_declared_layout(levels_module):
    meta = HEAREncoder(levels_module).metadata()
    assert meta["layout"] == "binaural" and meta["input_channels"] == 2
    assert meta["paradigm"] == "handcrafted" and meta["sample_rate"] == 32000
    assert meta["source"]["hear_module"] == levels_module and meta["parameters"] == 0


@needs_sofa
def test_a_rendered_source_on_the_left_is_louder_in_the_left_ear(levels_module):
    from conftest import make_scene

    from sarl_hf.rendering.renderer import Renderer

    encoder, renderer = HEAREncoder(levels_module), Renderer()
    specs = [make_scene(azimuth_deg=azimuth, channel_format="binaural", rt60_s=0.3,
                        distance_m=1.0, class_name="noise_burst") for azimuth in (90.0, -90.0)]
    ild = encoder.embed([renderer.render(spec).audio for spec in specs], 16000)["scene"][:, 0]
    assert ild[0] > 2.0 and ild[1] < -2.0, ild  # (3.8 and -5.5 dB)
