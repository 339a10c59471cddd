"""sarl_hf.encoders.wrapped: any PyTorch module or callable with the base class's checks,
batching and fingerprint."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sarl_hf.encoders import ModuleEncoder  # noqa: E402

FS = 16000


class Binaural(torch.nn.Module):
    """Per-frame levels of both ears and their difference, and a learned projection."""

    def __init__(self, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.project = torch.nn.Linear(2, 3)

    def forward(self, audio):                                   # (batch, 2, samples)
        level = 10 * torch.log10(audio.unfold(-1, 320, 320).pow(2).mean(-1) + 1e-10)
        frames = level.transpose(1, 2)                          # (batch, frames, 2)
        return {"levels": frames, "ild": frames[..., :1] - frames[..., 1:],
                "projection": self.project(frames.mean(1))}    # (batch, 3)


def scene(left_db: float, samples: int = FS, seed: int = 0):
    rng = np.random.default_rng(seed)
    mono = 0.1 * rng.standard_normal(samples)
    return np.stack([mono * 10 ** (left_db / 20), mono]).astype(np.float32)


def test_a_binaural_module_embeds_both_ears_pooled_per_layer():
    encoder = ModuleEncoder(Binaural(), sample_rate=FS, num_channels=2, name="binaural")
    assert encoder.channel_policy == "native" and encoder.layers == ("levels", "ild",
                                                                     "projection")
    out = encoder.embed([scene(6.0), scene(-2.0, seed=1)], FS)
    assert {k: v.shape for k, v in out.items()} == {"levels": (2, 2), "ild": (2, 1),
                                                    "projection": (2, 3)}
    np.testing.assert_allclose(out["ild"][:, 0], [6.0, -2.0], atol=1e-3)
    both = ModuleEncoder(Binaural(), FS, 2, pooling="mean+std").embed([scene(6.0)], FS)
    assert both["levels"].shape == (1, 4) and both["projection"].shape == (1, 3)


def test_batches_resampling_and_checks_of_the_base_class():
    encoder = ModuleEncoder(Binaural(), FS, 2, batch_size=2)
    clips = [scene(3.0, FS, 0), scene(1.0, FS // 2, 1), scene(-4.0, FS, 2)]
    together = encoder.embed(clips, FS)
    for k, clip in enumerate(clips):  # a clip's embedding never depends on its batch
        np.testing.assert_allclose(encoder.embed([clip], FS)["ild"][0], together["ild"][k],
                                   atol=1e-5)
    resampled = encoder.embed([scene(6.0, 22050)], 22050)["ild"][0, 0]
    assert resampled == pytest.approx(6.0, abs=0.05)
    with pytest.raises(ValueError, match="takes 2 channels, the scene has 4"):
        encoder.embed([np.zeros((4, FS), np.float32)], FS)
    nan = scene(0.0)
    nan[0, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        encoder.embed([nan], FS)
    bad = ModuleEncoder(lambda audio: audio[:, 0, :7].T, FS, 2, name="bad")
    with pytest.raises(RuntimeError, match="layer 'output' has shape"):
        bad.embed([scene(0.0), scene(1.0)], FS)
    with pytest.raises(ValueError, match="function must be"):
        ModuleEncoder(42, FS)


def test_a_plain_callable_and_a_mono_downmix():
    def loudness(audio):                                   # (batch, 1, samples) -> (batch, 1)
        return 10 * torch.log10(audio.pow(2).mean(-1) + 1e-10)

    encoder = ModuleEncoder(loudness, FS)
    assert (encoder.name, encoder.channel_policy, encoder.layers) == \
        ("loudness", "downmix", ("output",))
    out = encoder.embed([np.ones((2, FS), np.float32)], FS)["output"]
    assert out.shape == (1, 1) and out[0, 0] == pytest.approx(0.0, abs=1e-4)


def test_the_fingerprint_follows_weights_settings_and_version():
    base = ModuleEncoder(Binaural(0), FS, 2).fingerprint()
    assert ModuleEncoder(Binaural(0), FS, 2).fingerprint() == base
    assert ModuleEncoder(Binaural(1), FS, 2).fingerprint() != base  # other weights
    assert ModuleEncoder(Binaural(0), 32000, 2).fingerprint() != base
    assert ModuleEncoder(Binaural(0), FS, 2, version="2").fingerprint() != base
    assert ModuleEncoder(Binaural(0), FS, 2, pooling="mean+std").fingerprint() != base
    settings = ModuleEncoder(Binaural(0), FS, 2).settings()
    assert settings["function"].endswith("Binaural") and settings["code_sha256"]


def test_metadata_of_a_wrapped_module():
    meta = ModuleEncoder(Binaural(), FS, 2, name="binaural", channel_layout="binaural",
                         paradigm="supervised", training_data="simulated rooms").metadata()
    assert (meta["layout"], meta["input_channels"], meta["parameters"]) == ("binaural", 2, 9)
    assert meta["paradigm"] == "supervised" and meta["training_data"] == "simulated rooms"
    with pytest.raises(ValueError, match="paradigm must be one of"):
        ModuleEncoder(Binaural(), FS, 2, paradigm="guesswork")
