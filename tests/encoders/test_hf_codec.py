"""Codec encoders (EncodecModel, DacModel): the encoder's blocks and latents as layers, on
tiny models built from configs, saved and loaded back."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers
from tiny_models import save_tiny_codec

from sarl_hf.encoders import load_encoder

FS = 16000


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """EnCodec's LSTM steps through frames; on a busy 2-core machine a second thread made
    each of its tiny steps wait (4.8 s against 2 ms for 200 frames)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("codecs")
    return {"encodec": save_tiny_codec("encodec", root / "encodec"),
            "encodec-stereo": save_tiny_codec("encodec", root / "stereo", audio_channels=2),
            "dac": save_tiny_codec("dac", root / "dac")}


def clips(seed=0, n=3, channels=2, samples=1600):
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal((n, channels, samples))).astype(np.float32)


def test_encodec_layers_are_its_blocks_and_latents(folders):
    encoder = load_encoder(str(folders["encodec"]))
    audio = clips()
    out = encoder.embed(audio, FS)
    assert {k: v.shape[1] for k, v in out.items()} == {"block_1": 8, "block_2": 16,
                                                       "lstm": 16, "latent": 8,
                                                       "quantized": 8}
    model = transformers.AutoModel.from_pretrained(folders["encodec"])
    with torch.inference_mode():
        latent = model.encoder(torch.from_numpy(audio.mean(1, keepdims=True)))
        codes = model.encode(torch.from_numpy(audio.mean(1, keepdims=True)),
                             bandwidth=16.0).audio_codes[0]
        quantized = model.quantizer.decode(codes.transpose(0, 1))
    np.testing.assert_allclose(out["latent"], latent.mean(-1).numpy(), atol=1e-5)
    np.testing.assert_allclose(out["quantized"], quantized.mean(-1).numpy(), atol=1e-5)
    np.testing.assert_allclose(encoder.embed(audio[1:2], FS)["latent"][0], out["latent"][1],
                               atol=1e-6)
    meta = encoder.metadata()
    assert meta["paradigm"] == "codec reconstruction" and meta["family"] == "encodec"
    assert "no hidden_states" in meta["outputs"] and meta["parameters"] > 0


def test_a_stereo_codec_takes_both_channels_natively(folders):
    encoder = load_encoder(str(folders["encodec-stereo"]))
    assert (encoder.num_channels, encoder.channel_policy) == (2, "native")
    audio = clips(1, n=1)
    swapped = audio[:, ::-1].copy()
    out, flipped = encoder.embed(audio, FS), encoder.embed(swapped, FS)
    assert not np.allclose(out["latent"], flipped["latent"], atol=1e-4)  # channel-dependent
    with pytest.raises(ValueError, match="channel_policy must be 'native'"):
        load_encoder(str(folders["encodec-stereo"]), channel_policy="downmix")
    with pytest.raises(ValueError, match="takes 2 channels, the scene has 4"):
        encoder.embed(clips(2, n=1, channels=4), FS)


def test_dac_layers_and_padding_to_the_hop(folders):
    encoder = load_encoder(str(folders["dac"]))
    out = encoder.embed(clips(3, samples=1601), FS)  # not a multiple of the hop (8)
    assert {k: v.shape[1] for k, v in out.items()} == {"block_1": 8, "block_2": 16,
                                                       "latent": 16, "quantized": 16}
    model = transformers.AutoModel.from_pretrained(folders["dac"])
    audio = clips(3, samples=1601).mean(1, keepdims=True)
    padded = np.pad(audio, ((0, 0), (0, 0), (0, 7)))
    with torch.inference_mode():
        encoded = model.encode(torch.from_numpy(padded))
    np.testing.assert_allclose(out["quantized"],
                               encoded.quantized_representation.mean(-1).numpy(), atol=1e-5)
    assert load_encoder(str(folders["dac"]), pooling="mean+std").embed(
        clips(3), FS)["latent"].shape == (3, 32)
