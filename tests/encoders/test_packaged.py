"""Encoders whose weights install with a package (CREPE, GE2E) and the HEAR adapter."""

import sys
import textwrap
import types

import numpy as np
import pytest

torch = pytest.importorskip("torch")

RATE = 16000


def tone(freq_hz: float, seconds: float = 0.5, rate: int = RATE, channels: int = 1):
    """A sine (channels, samples) float32 at amplitude 0.5."""
    t = np.arange(int(seconds * rate)) / rate
    return np.repeat(0.5 * np.sin(2 * np.pi * freq_hz * t)[None], channels, 0).astype(np.float32)


def noise(seconds: float, seed: int, rate: int = RATE, channels: int = 1):
    """White noise (channels, samples) float32, standard deviation 0.1."""
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal((channels, int(seconds * rate)))).astype(np.float32)


def assert_batch_invariant(encoder, rate: int = RATE):
    """A short clip alone and in a batch with longer, different clips: same embedding."""
    short = noise(0.5, 1, rate, channels=2)
    alone = encoder.embed([short], rate)
    batch = encoder.embed([noise(1.0, 2, rate, 2), short, tone(300, 0.7, rate, 2)], rate)
    for layer in encoder.layers:
        np.testing.assert_allclose(batch[layer][1], alone[layer][0], atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------- CREPE

@pytest.fixture(scope="module")
def crepe():
    pytest.importorskip("torchcrepe")
    from sarl_hf.encoders.crepe import CrepeEncoder

    return CrepeEncoder("tiny")


@pytest.mark.parametrize("rate", [16000, 22050])
def test_crepe_shapes(crepe, rate):
    scenes = [noise(0.5, 0, rate, 2), tone(440, 0.8, rate, 2)]
    out = crepe.embed(scenes, rate)
    assert list(out) == ["conv5", "embedding", "salience"]
    assert {k: v.shape for k, v in out.items()} == {k: (2, d) for k, d in crepe.dims().items()}
    assert crepe.dims() == {"conv5": 256, "embedding": 256, "salience": 360}
    assert all(v.dtype == np.float32 for v in out.values())


def test_crepe_batch_invariant(crepe):
    from sarl_hf.encoders.crepe import CrepeEncoder

    assert_batch_invariant(crepe)
    assert_batch_invariant(CrepeEncoder("tiny", batch_size=37, pooling="mean+std"))


def test_crepe_matches_torchcrepe(crepe):
    import torchcrepe

    audio = torch.from_numpy(tone(440, 0.5))
    frames = next(torchcrepe.preprocess(audio, RATE, 160, None, "cpu", True))
    with torch.inference_mode():
        probs = crepe.net(frames)
    np.testing.assert_allclose(crepe.embed(audio.numpy()[None], RATE)["salience"][0],
                               probs.mean(0).numpy(), atol=1e-5)


def test_crepe_salience_follows_pitch(crepe):
    out = crepe.embed([tone(440), tone(880)], RATE)["salience"]
    low, high = out.argmax(axis=1)
    assert abs(int(high) - int(low) - 60) <= 2  # one octave = 60 bins of 20 cents
    # 440 Hz is 6551 cents above 10 Hz; bin 0 is at 1997.4 cents
    assert abs(int(low) - (1200 * np.log2(440 / 10) - 1997.38) / 20) <= 2


def test_crepe_per_channel_concat_doubles(crepe):
    from sarl_hf.encoders.crepe import CrepeEncoder

    stereo = np.stack([tone(440, 0.5)[0], tone(880, 0.5)[0]])
    both = CrepeEncoder("tiny", channel_policy="per_channel_concat").embed([stereo], RATE)
    for layer, dim in crepe.dims().items():
        assert both[layer].shape == (1, 2 * dim)
    left = CrepeEncoder("tiny", channel_policy="channel:0").embed([stereo], RATE)
    np.testing.assert_allclose(both["salience"][0, :360], left["salience"][0], atol=1e-6)


def test_crepe_settings_and_errors(crepe):
    from sarl_hf.encoders.crepe import CrepeEncoder

    full = CrepeEncoder("full")
    assert full.name == "crepe-full" and crepe.name == "crepe-tiny"
    assert full.fingerprint() != crepe.fingerprint()
    assert full.settings()["weights_sha256"] != crepe.settings()["weights_sha256"]
    assert crepe.settings()["package_version"]
    assert CrepeEncoder("tiny", hop_ms=20).fingerprint() != crepe.fingerprint()
    assert CrepeEncoder("tiny", batch_size=3).fingerprint() == crepe.fingerprint()
    assert full.dims() == {"conv5": 2048, "embedding": 2048, "salience": 360}
    with pytest.raises(ValueError, match="model"):
        CrepeEncoder("small")
    with pytest.raises(ValueError, match="hop_ms"):
        CrepeEncoder("tiny", hop_ms=0.01)
    with pytest.raises(ValueError, match="batch_size"):
        CrepeEncoder("tiny", batch_size=0)
    with pytest.raises(ValueError, match="pooling"):
        CrepeEncoder("tiny", pooling="max")
    with pytest.raises(ValueError, match="native"):
        CrepeEncoder("tiny", channel_policy="native")
    with pytest.raises(ValueError, match="channel:3"):
        CrepeEncoder("tiny", channel_policy="channel:3").embed([noise(0.5, 0, channels=2)],
                                                               RATE)


# ---------------------------------------------------------------- GE2E

@pytest.fixture(scope="module")
def ge2e():
    from sarl_hf.encoders.ge2e import GE2EEncoder
    from sarl_hf.encoders.packaged import package_dir

    try:
        package_dir("resemblyzer")
    except ImportError:
        pytest.skip("resemblyzer not installed (pip install 'sarl_hf[encoders]')")
    return GE2EEncoder()


@pytest.mark.parametrize("rate", [16000, 22050])
def test_ge2e_shapes_unit_norm_deterministic(ge2e, rate):
    scenes = [noise(0.5, 0, rate, 2), noise(2.5, 1, rate, 2)]
    out = ge2e.embed(scenes, rate)
    assert {k: v.shape for k, v in out.items()} == {"lstm_mean": (2, 256), "embedding": (2, 256)}
    np.testing.assert_allclose(np.linalg.norm(out["embedding"], axis=1), 1.0, atol=1e-5)
    again = ge2e.embed(scenes, rate)
    for layer in ge2e.layers:
        np.testing.assert_array_equal(out[layer], again[layer])


def test_ge2e_batch_invariant_and_silence(ge2e):
    assert_batch_invariant(ge2e)
    silent = ge2e.embed([np.zeros((1, 8000), np.float32)], RATE)
    assert all(np.isfinite(v).all() for v in silent.values())


@pytest.mark.filterwarnings("ignore:Please import `binary_dilation`:DeprecationWarning")
def test_ge2e_matches_resemblyzer(ge2e, monkeypatch):
    """Same waveform, same embedding as VoiceEncoder.embed_utterance (webrtcvad stubbed:
    only its silence trimming needs it)."""
    pytest.importorskip("librosa")
    if "webrtcvad" not in sys.modules:
        try:
            import webrtcvad  # noqa: F401
        except ImportError:
            monkeypatch.setitem(sys.modules, "webrtcvad", types.ModuleType("webrtcvad"))
    from resemblyzer import VoiceEncoder, wav_to_mel_spectrogram

    from sarl_hf.encoders.ge2e import normalize_volume

    reference = VoiceEncoder("cpu", verbose=False)
    for seconds in (0.7, 2.6):
        wav = normalize_volume(noise(seconds, 3)[0])
        np.testing.assert_allclose(ge2e.mel(wav), wav_to_mel_spectrogram(wav), rtol=1e-4,
                                   atol=1e-6 * float(wav_to_mel_spectrogram(wav).max()))
        ours = ge2e.embed(wav[None, None], RATE)["embedding"][0]
        np.testing.assert_allclose(ours, reference.embed_utterance(wav), atol=1e-5)


def test_ge2e_partials_and_errors():
    from sarl_hf.encoders.ge2e import GE2EEncoder, partial_starts

    assert partial_starts(8000) == [0]
    assert partial_starts(64000) == [0, 77, 154, 231]
    with pytest.raises(ValueError, match="rate"):
        GE2EEncoder(rate=0.1)
    with pytest.raises(ValueError, match="min_coverage"):
        GE2EEncoder(min_coverage=0)


# ---------------------------------------------------------------- HEAR

TINY_HEAR = '''
"""A tiny HEAR-API module for tests: framed linear projection."""
import torch

HOP = 32


class TinyModel(torch.nn.Module):
    sample_rate = 16000
    scene_embedding_size = 8
    timestamp_embedding_size = 8

    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.proj = torch.nn.Linear(64, 8)


def load_model(model_file_path=""):
    model = TinyModel()
    if model_file_path:
        model.load_state_dict(torch.load(model_file_path, weights_only=True))
    return model


def get_timestamp_embeddings(audio, model):
    frames = torch.nn.functional.pad(audio, (32, 32)).unfold(1, 64, HOP)
    embeddings = torch.tanh(model.proj(frames))
    times = torch.arange(embeddings.shape[1]) * HOP / model.sample_rate * 1000
    return embeddings, times.expand(audio.shape[0], -1)


def get_scene_embeddings(audio, model):
    return get_timestamp_embeddings(audio, model)[0].mean(dim=1)
'''


@pytest.fixture()
def hear_module(tmp_path, monkeypatch):
    name = f"tiny_hear_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(TINY_HEAR))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


@pytest.mark.parametrize("rate", [16000, 22050])
def test_hear_shapes_and_layers(hear_module, rate):
    from sarl_hf.encoders.hear import HEAREncoder

    encoder = HEAREncoder(hear_module, timestamp_mean=True)
    assert encoder.name == f"hear:{hear_module}" and encoder.sample_rate == 16000
    out = encoder.embed([noise(0.5, 0, rate, 2), noise(0.8, 1, rate, 2)], rate)
    assert encoder.layers == ("scene", "timestamp_mean")
    assert {k: v.shape for k, v in out.items()} == {"scene": (2, 8), "timestamp_mean": (2, 8)}
    np.testing.assert_allclose(out["scene"], out["timestamp_mean"], atol=1e-6)
    assert HEAREncoder(hear_module).layers == ("scene",)


def test_hear_batch_invariant_and_concat(hear_module):
    from sarl_hf.encoders.hear import HEAREncoder

    assert_batch_invariant(HEAREncoder(hear_module, batch_size=2))
    stereo = noise(0.5, 4, channels=2)
    out = HEAREncoder(hear_module, channel_policy="per_channel_concat").embed([stereo], RATE)
    assert out["scene"].shape == (1, 16)


def test_hear_model_file_changes_fingerprint(hear_module, tmp_path):
    import importlib

    from sarl_hf.encoders.hear import HEAREncoder

    module = importlib.import_module(hear_module)
    default = HEAREncoder(module)
    paths = []
    for seed in (1, 2):
        paths.append(tmp_path / f"weights{seed}.pt")
        torch.save(module.TinyModel(seed).state_dict(), paths[-1])
    first, second = HEAREncoder(module, paths[0]), HEAREncoder(module, paths[1])
    assert len({default.fingerprint(), first.fingerprint(), second.fingerprint()}) == 3
    assert HEAREncoder(module, paths[0]).fingerprint() == first.fingerprint()
    clip = [noise(0.5, 5)]
    assert not np.allclose(first.embed(clip, RATE)["scene"], second.embed(clip, RATE)["scene"])


def test_hear_errors(hear_module, tmp_path):
    from sarl_hf.encoders.hear import HEAREncoder

    with pytest.raises(ImportError, match="module_name_or_module"):
        HEAREncoder("no_such_hear_module_xyz")
    with pytest.raises(ValueError, match="get_scene_embeddings"):
        HEAREncoder(types.ModuleType("empty"))
    with pytest.raises(ValueError, match="module_name_or_module"):
        HEAREncoder(42)
    with pytest.raises(FileNotFoundError, match="model_file"):
        HEAREncoder(hear_module, tmp_path / "missing.pt")
    bare = types.ModuleType("bare")
    bare.load_model = lambda *args: object()
    bare.get_scene_embeddings = lambda audio, model: audio[:, :4]
    with pytest.raises(ValueError, match="sample_rate"):
        HEAREncoder(bare)
    with pytest.raises(ValueError, match="get_timestamp_embeddings"):
        bare.load_model = lambda *args: types.SimpleNamespace(sample_rate=16000)
        HEAREncoder(bare, timestamp_mean=True)
    with pytest.raises(ValueError, match="channel:3"):
        HEAREncoder(hear_module, channel_policy="channel:3").embed([noise(0.5, 0, channels=2)],
                                                                   RATE)
