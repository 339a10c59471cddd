"""The transformers wrapper on tiny models of every supported family, loaded from disk."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers
from tiny_models import BUILDERS, save_tiny

from sarl_hf.encoders.hf import TransformersEncoder

FS = 16000


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return {kind: save_tiny(kind, root / kind) for kind in BUILDERS}


def scenes(rng, lengths_s, channels=2):
    return [(0.1 * rng.standard_normal((channels, int(s * FS)))).astype(np.float32)
            for s in lengths_s]


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_every_family_loads_and_embeds_independently_of_its_batch(folders, kind):
    encoder = TransformersEncoder(str(folders[kind]))
    model = transformers.AutoModel.from_pretrained(folders[kind])
    rng = np.random.default_rng(1)
    clips = scenes(rng, [1.0, 1.5, 1.0])
    together = encoder.embed(clips, FS)
    alone = encoder.embed(clips[:1], FS)
    depth = getattr(model.config, "num_hidden_layers", None) or getattr(
        model.config, "encoder_layers", None)
    if kind == "clap":
        assert set(together) >= {"pooler", "projection"}
    else:
        assert list(together) == [f"layer_{k:02d}" for k in range(depth + 1)]
    for layer, values in together.items():
        assert values.shape[0] == 3 and values.dtype == np.float32
        assert np.abs(values[0] - alone[layer][0]).max() < 1e-5, layer
        assert not np.allclose(values[0], values[1])
    assert encoder.layers == tuple(together)


def test_pooling_and_channel_policies_shape_the_embedding(folders):
    path = str(folders["wav2vec2"])
    clips = scenes(np.random.default_rng(2), [1.0, 1.0])
    mean = TransformersEncoder(path).embed(clips, FS)["layer_02"]
    both = TransformersEncoder(path, pooling="mean+std").embed(clips, FS)["layer_02"]
    assert both.shape == (2, 64) and np.allclose(both[:, :32], mean, atol=1e-6)
    concat = TransformersEncoder(path, channel_policy="per_channel_concat").embed(clips, FS)
    left = TransformersEncoder(path, channel_policy="channel:0").embed(clips, FS)
    assert concat["layer_02"].shape == (2, 64)
    assert np.allclose(concat["layer_02"][:, :32], left["layer_02"], atol=1e-5)
    with pytest.raises(ValueError, match="only 2 channels"):
        TransformersEncoder(path, channel_policy="channel:3").embed(clips, FS)
    with pytest.raises(ValueError, match="takes one channel"):
        TransformersEncoder(path, channel_policy="native")
    with pytest.raises(ValueError, match="CLS token"):
        TransformersEncoder(path, pooling="first")
    first = TransformersEncoder(str(folders["ast"]), pooling="first").embed(clips, FS)
    assert first["layer_02"].shape == (2, 32)


def test_other_rates_are_resampled_to_the_model_rate(folders):
    encoder = TransformersEncoder(str(folders["hubert"]))
    rng = np.random.default_rng(3)
    clip = (0.1 * rng.standard_normal((1, 22050))).astype(np.float32)
    out = encoder.embed([clip], 22050)
    assert out["layer_00"].shape == (1, 32)
    clap = TransformersEncoder(str(folders["clap"]))
    assert clap.sample_rate == 48000 and clap.embed([clip], 22050)["projection"].shape == (1, 16)


def test_fingerprint_follows_weights_and_settings(folders, tmp_path):
    path = str(folders["wav2vec2"])
    base = TransformersEncoder(path).fingerprint()
    assert TransformersEncoder(path).fingerprint() == base
    assert TransformersEncoder(path, pooling="max").fingerprint() != base
    assert TransformersEncoder(path, channel_policy="channel:1").fingerprint() != base
    other = save_tiny("wav2vec2", tmp_path / "w2v_seed1", seed=1)
    assert TransformersEncoder(str(other)).fingerprint() != base


def test_clear_errors(folders, tmp_path):
    with pytest.raises(ValueError, match="cannot load"):
        TransformersEncoder("sarl-test/no-such-model")
    bert = tmp_path / "bert"
    transformers.BertModel(transformers.BertConfig(**{
        "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
        "intermediate_size": 37, "vocab_size": 50})).save_pretrained(bert)
    with pytest.raises(ValueError, match="not an audio encoder"):
        TransformersEncoder(str(bert))
    encoder = TransformersEncoder(str(folders["wav2vec2"]))
    clip = np.zeros((1, FS), np.float32)
    clip[0, 10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        encoder.embed([clip], FS)
    with torch.no_grad():
        for parameter in encoder.model.parameters():
            parameter.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="NaN"):
        encoder.embed([np.ones((1, FS), np.float32)], FS)


def test_tf32_is_a_setting_of_the_fingerprint(folders):
    path = str(folders["wav2vec2"])
    exact, fast = TransformersEncoder(path), TransformersEncoder(path, allow_tf32=True)
    assert exact.settings()["allow_tf32"] is False and fast.settings()["allow_tf32"] is True
    assert exact.fingerprint() != fast.fingerprint()
    torch.backends.cudnn.allow_tf32 = True
    clips = scenes(np.random.default_rng(5), [0.5])
    with exact.precision():
        assert torch.backends.cudnn.allow_tf32 is False
    assert torch.backends.cudnn.allow_tf32 is True  # restored
    assert np.allclose(exact.embed(clips, FS)["layer_01"], fast.embed(clips, FS)["layer_01"],
                       atol=1e-6)  # on the CPU TF32 changes nothing
