"""The PESTO encoder: the package's own model (weights in its wheel), its layers pooled."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pesto")

from sarl_hf.encoders import load_encoder  # noqa: E402
from sarl_hf.encoders.pesto import PestoEncoder  # noqa: E402

FS = 16000


def tone(freq_hz, seconds=0.5, channels=2):
    t = np.arange(int(seconds * FS)) / FS
    return np.repeat(0.5 * np.sin(2 * np.pi * freq_hz * t)[None], channels, 0).astype(np.float32)


@pytest.fixture(scope="module")
def pesto():
    return load_encoder("pesto")


def test_layers_follow_pitch_and_match_the_package(pesto):
    import pesto as package

    out = pesto.embed([tone(220), tone(440)], FS)
    assert {k: v.shape for k, v in out.items()} == {"voicing": (2, 2), "conv": (2, 657),
                                                    "activations": (2, 384)}
    assert list(out) == list(pesto.layers)  # model order: the output last
    low, high = out["activations"].argmax(1)
    assert high - low == 36  # one octave: 12 semitones of 3 bins
    _, pitch, _, activations = package.predict(torch.from_numpy(tone(220, channels=1)), FS)
    np.testing.assert_allclose(out["activations"][0], activations[0].mean(0).numpy(),
                               atol=1e-4)  # alone against in a batch of two: 2.4e-5
    assert float(pitch.median()) == pytest.approx(220, rel=0.02)


def test_batches_settings_and_metadata(pesto):
    clips = [tone(330, 0.5), tone(200, 0.8), tone(500, 0.5)]
    together = pesto.embed(clips, FS)
    alone = pesto.embed(clips[1:2], FS)
    np.testing.assert_allclose(together["conv"][1], alone["conv"][0], atol=1e-5)
    assert PestoEncoder(hop_ms=20).fingerprint() != pesto.fingerprint()
    assert PestoEncoder(pooling="mean+std").embed(clips[:1], FS)["voicing"].shape == (1, 4)
    meta = pesto.metadata()
    assert meta["paradigm"] == "self-supervised equivariance" and meta["family"] == "PESTO"
    assert meta["source"]["package"] == "pesto-pitch" and 100_000 < meta["parameters"] < 200_000
    with pytest.raises(ValueError, match="native"):
        PestoEncoder(channel_policy="native")
    with pytest.raises(ValueError, match="hop_ms"):
        PestoEncoder(hop_ms=0.01)
