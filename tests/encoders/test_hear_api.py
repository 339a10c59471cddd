"""SARL's encoders as HEAR modules: ``sarl-logmel`` passes hearvalidator, ``sarl-spatial``
is a multichannel module in GRAM's convention, and both read back through the HEAR
adapter give the encoders' own embeddings."""

import ast
import contextlib
import importlib
import sys
import types

import numpy as np
import pytest
from conftest import REPO

torch = pytest.importorskip("torch")

from sarl_hf.encoders import hear_logmel, hear_spatial, load_encoder  # noqa: E402
from sarl_hf.encoders.hear import HEAREncoder  # noqa: E402
from sarl_hf.encoders.reference import LogMelEncoder, SpatialEncoder  # noqa: E402

FS = 16000
HEAR_MODULES = {"sarl_hf.encoders.hear_logmel", "sarl_hf.encoders.hear_spatial"}


@pytest.fixture
def validator(monkeypatch):
    """hearvalidator's ``ValidateModel``. It imports TensorFlow for TensorFlow modules
    only; where TensorFlow is not installed (it is not a dependency) a stub stands in."""
    pytest.importorskip("hearvalidator")
    if importlib.util.find_spec("tensorflow") is None:
        stub = types.ModuleType("tensorflow")
        stub.Module, stub.device = type("Module", (), {}), lambda name: contextlib.nullcontext()
        monkeypatch.setitem(sys.modules, "tensorflow", stub)
    monkeypatch.delitem(sys.modules, "hearvalidator.validate", raising=False)
    return importlib.import_module("hearvalidator.validate")


def scenes(channels, n=2, seconds=0.5, seed=0):
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal((n, channels, int(seconds * FS)))).astype(np.float32)


def test_sarl_logmel_passes_hearvalidator(validator, capsys):
    validator.ValidateModel("sarl_hf.encoders.hear_logmel", "", device="cpu")()
    printed = capsys.readouterr().out
    assert "Received embedding of shape: torch.Size([16, 41, 192])" in printed
    assert "Interval between timestamps is 50.0ms" in printed
    with pytest.raises(validator.ModelError, match="must include a function: 'load_model'"):
        validator.ValidateModel("sarl_hf.encoders.reference", "", device="cpu")()


def test_no_other_module_defines_a_load_model():
    """HEAR tools take a module-level ``load_model`` for the entry point."""
    defining = {".".join(path.relative_to(REPO).with_suffix("").parts)
                for path in (REPO / "sarl_hf").rglob("*.py")
                for node in ast.parse(path.read_text()).body
                if isinstance(node, ast.FunctionDef) and node.name == "load_model"}
    assert defining == HEAR_MODULES


def test_read_back_through_the_hear_adapter_they_are_the_encoders_themselves():
    mono = HEAREncoder("sarl_hf.encoders.hear_logmel", timestamp_mean=True)
    audio = scenes(2)
    expected = LogMelEncoder().embed(audio, FS)["all"]
    np.testing.assert_allclose(mono.embed(audio, FS)["scene"], expected, rtol=1e-5, atol=1e-5)
    spatial = load_encoder("hear:sarl_hf.encoders.hear_spatial")
    assert (spatial.num_channels, spatial.channel_policy) == (2, "native")
    np.testing.assert_allclose(spatial.embed(audio, FS)["scene"],
                               SpatialEncoder().embed(audio, FS)["all"], rtol=1e-5, atol=1e-5)
    meta = spatial.metadata()
    assert (meta["paradigm"], meta["layout"], meta["family"]) == \
        ("handcrafted", "any", "sarl reference")
    foa = HEAREncoder(hear_spatial, model_options={"in_channels": 4, "layout": "foa"})
    np.testing.assert_allclose(foa.embed(scenes(4), FS)["scene"],
                               SpatialEncoder(layout="foa").embed(scenes(4), FS)["all"],
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="takes 2 channels, the scene has 4"):
        spatial.embed(scenes(4), FS)


def test_timestamp_embeddings_are_windows_around_regular_timestamps():
    model = hear_spatial.load_model()
    audio = torch.from_numpy(scenes(2, n=1, seconds=0.3))
    embeddings, times = hear_spatial.get_timestamp_embeddings(audio, model)
    np.testing.assert_allclose(times[0].numpy(), np.arange(0, 301, 50))
    assert embeddings.shape == (1, 7, model.timestamp_embedding_size)
    padded = np.pad(audio.numpy(), ((0, 0), (0, 0), (2000, 2000)))  # zeros beyond the edges
    window = padded[:, :, 1600:5600]  # 250 ms (4000 samples) around 100 ms (sample 1600)
    np.testing.assert_allclose(embeddings[0, 2].numpy(), model.embed(window)[0],
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"audio must be \(n, 2, samples\)"):
        hear_spatial.get_scene_embeddings(torch.zeros(2, 800), model)
    assert hear_logmel.load_model().state_dict()["fingerprint"].numel() == 8
