"""Transformers models with their own modelling code (``auto_map``, trust_remote_code):
a tiny model folder written here carries its code, loaded through the real path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers
from conftest import run_cli
from tiny_models import save_tiny_remote
from transformers.models.auto.configuration_auto import CONFIG_MAPPING

from sarl_hf.encoders import load_encoder
from sarl_hf.encoders.hf import TransformersEncoder
from sarl_hf.errors import ArgumentRequired

FS = 16000
pytestmark = pytest.mark.usefixtures("hf_modules_cache")


def clips(seed=0, n=3, seconds=0.5):
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal((n, 2, int(seconds * FS)))).astype(np.float32)


def test_remote_code_stays_off_unless_asked_and_the_refusal_says_how(tmp_path):
    folder = save_tiny_remote(tmp_path / f"remote_{tmp_path.name}")
    assert "sarl-test-tiny-audio" not in CONFIG_MAPPING  # nothing registered: its own code
    with pytest.raises(ArgumentRequired, match="trust_remote_code=True") as refused:
        TransformersEncoder(str(folder))
    assert refused.value.argument == "trust_remote_code"
    assert "modeling_tiny_audio.TinyAudioModel" in str(refused.value)
    with pytest.raises(ArgumentRequired):
        load_encoder(str(folder))
    corpus = tmp_path / "no-corpus"
    code, _, stderr = run_cli(["embed", "--corpus", str(corpus), "--config", "mono",
                               "--encoder", str(folder), "--device", "cpu", "--no-progress"])
    assert code == 2 and "(the --trust-remote-code option)" in stderr


def test_every_hidden_layer_of_a_remote_code_model(tmp_path):
    folder = save_tiny_remote(tmp_path / f"remote_{tmp_path.name}")
    encoder = load_encoder(str(folder), trust_remote_code=True)
    audio = clips()
    out = encoder.embed(audio, FS)
    assert list(out) == ["layer_00", "layer_01", "layer_02"] == list(encoder.layers)
    model = transformers.AutoModel.from_pretrained(folder, trust_remote_code=True)
    with torch.inference_mode():
        hidden = model(torch.from_numpy(audio.mean(1)), output_hidden_states=True).hidden_states
    for k, states in enumerate(hidden):
        np.testing.assert_allclose(out[f"layer_{k:02d}"], states.mean(1).numpy(), atol=1e-6)
    alone = encoder.embed(audio[1:2], FS)
    np.testing.assert_allclose(alone["layer_02"][0], out["layer_02"][1], atol=1e-6)
    assert "every hidden state" in encoder.outputs
    meta = encoder.metadata()
    assert meta["source"]["remote_code"] is True and meta["family"] == "sarl-test-tiny-audio"
    assert meta["paradigm"] is None and meta["parameters"] == 160 * 8 + 8 + 2 * (8 * 8 + 8)


def test_a_model_without_hidden_states_says_which_outputs_it_used(tmp_path):
    folder = save_tiny_remote(tmp_path / f"bare_{tmp_path.name}", hidden_states=False,
                              extractor=True)
    encoder = TransformersEncoder(str(folder), trust_remote_code=True)
    audio = clips(1)
    out = encoder.embed(audio, FS)
    assert list(out) == ["last_hidden_state", "pooler_output"]
    assert encoder.outputs.startswith("no hidden_states") and "pooler_output" in encoder.outputs
    assert encoder.metadata()["outputs"] == encoder.outputs
    extractor = transformers.AutoFeatureExtractor.from_pretrained(folder)
    model = transformers.AutoModel.from_pretrained(folder, trust_remote_code=True)
    values = extractor(list(audio.mean(1)), sampling_rate=FS, return_tensors="pt")
    with torch.inference_mode():
        direct = model(values["input_values"])
    np.testing.assert_allclose(out["pooler_output"], direct.pooler_output.numpy(), atol=1e-6)
    np.testing.assert_allclose(out["last_hidden_state"],
                               direct.last_hidden_state.mean(1).numpy(), atol=1e-6)


def test_the_fingerprint_follows_the_modelling_code(tmp_path):
    folder = save_tiny_remote(tmp_path / f"code_{tmp_path.name}")
    before = TransformersEncoder(str(folder), trust_remote_code=True).fingerprint()
    code = folder / "modeling_tiny_audio.py"
    code.write_text(code.read_text().replace("torch.tanh(layer(hidden))",
                                             "torch.sin(layer(hidden))"))
    assert TransformersEncoder(str(folder), trust_remote_code=True).fingerprint() != before
