"""The Silero VAD encoder: the package's TorchScript model, chunk by chunk, without
importing ``silero_vad`` (whose import changes torch's thread count)."""

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sarl_hf.encoders import load_encoder  # noqa: E402
from sarl_hf.encoders.silero import CHUNK, chunk_windows  # noqa: E402

FS = 16000


@pytest.fixture(scope="module")
def silero():
    return load_encoder("silero-vad")


def noise(samples, seed=0, channels=2):
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal((channels, samples))).astype(np.float32)


def test_speech_probability_equals_the_package_model_chunk_by_chunk(silero):
    clip = noise(3 * CHUNK + 100, channels=1)[0]
    jit = torch.jit.load(str(silero.weights_path))
    padded = np.pad(clip, (0, -len(clip) % CHUNK))
    with torch.inference_mode():
        expected = [float(jit(torch.from_numpy(padded[i:i + CHUNK])[None], FS))
                    for i in range(0, len(padded), CHUNK)]
        layers = silero._run(torch.from_numpy(chunk_windows(clip))[None])
    np.testing.assert_allclose(layers["speech"][:, 0].numpy(), expected, atol=1e-6)
    out = silero.embed([clip[None]], FS)
    assert out["speech"][0, 0] == pytest.approx(np.mean(expected), abs=1e-6)
    assert {k: v.shape[1] for k, v in out.items()} == {"encoder": 128, "lstm": 128,
                                                       "speech": 1}


def test_batches_of_any_lengths_and_metadata(silero):
    clips = [noise(FS, 1), noise(FS // 2 + 7, 2), noise(FS, 3)]
    together = silero.embed(clips, FS)
    for k, clip in enumerate(clips):
        np.testing.assert_allclose(silero.embed([clip], FS)["lstm"][0], together["lstm"][k],
                                   atol=1e-5)
    meta = silero.metadata()
    assert (meta["family"], meta["paradigm"], meta["source"]["package"]) == \
        ("Silero VAD", "supervised", "silero-vad")
    assert load_encoder("silero-vad", pooling="mean+std").embed(clips[:1], FS)["speech"].shape \
        == (1, 2)


def test_loading_it_leaves_torch_threads_alone():
    code = ("import torch; before = torch.get_num_threads(); from sarl_hf.encoders import "
            "load_encoder; load_encoder('silero-vad').embed([[0.1] * 1600], 16000); "
            "import sys; print(before == torch.get_num_threads(), 'silero_vad' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["True", "False"]
