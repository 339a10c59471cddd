"""The reference encoders as Hub models: a saved folder carries its code and loads, with
AutoConfig, AutoModel and AutoFeatureExtractor, in a fresh process that never imports
sarl_hf, giving the package's own embeddings; the copied code imports nothing else."""

import ast
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REPO

from sarl_hf.encoders.reference import LogMelEncoder
from sarl_hf.encoders.reference import SarlLogMelConfig
from sarl_hf.encoders.reference import SarlLogMelModel
from sarl_hf.encoders.reference import SarlSpatialConfig
from sarl_hf.encoders.reference import SarlSpatialModel
from sarl_hf.encoders.reference import SpatialEncoder
from sarl_hf.encoders.reference_models import htk_mel_filterbank

FS = 16000
CODE_FILES = {"reference_configs.py", "reference_extractor.py", "reference_features.py",
              "reference_models.py", "wavefront.py"}
#: What the copied modelling code may import: a Hub user has these with transformers.
ALLOWED_IMPORTS = {"__future__", "dataclasses", "math", "os", "numpy", "torch", "transformers",
                   "huggingface_hub"}
#: Folder name → (model, encoder that embeds like the package, channels of its clips).
FOLDERS = {
    "sarl-spatial": (lambda: SarlSpatialModel(SarlSpatialConfig()), SpatialEncoder, 2),
    "sarl-spatial-foa": (lambda: SarlSpatialModel(SarlSpatialConfig(layout="foa")),
                         SpatialEncoder, 4),
    "sarl-logmel": (lambda: SarlLogMelModel(SarlLogMelConfig()), LogMelEncoder, 2),
}
HUB_USER = r'''
import importlib.abc
import json
import sys
from pathlib import Path


class RefuseSarl(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "sarl_hf":
            raise ImportError(f"the Hub path imported {name}")


sys.meta_path.insert(0, RefuseSarl())
import numpy as np
from transformers import AutoConfig, AutoFeatureExtractor, AutoModel

audio = dict(np.load(sys.argv[1]))
names, snippets = json.loads(sys.argv[2]), json.loads(sys.argv[3])
report, embeddings = {}, {}
for name in names:
    config = AutoConfig.from_pretrained(name, trust_remote_code=True)
    model = AutoModel.from_pretrained(name, trust_remote_code=True)
    extractor = AutoFeatureExtractor.from_pretrained(name, trust_remote_code=True)
    clips = [audio[key] for key in sorted(audio) if key.startswith(name + "/")]
    out = model(**extractor(clips, sampling_rate=16000, return_tensors="pt"))
    for layer, hidden in zip(model.layer_names(clips[0].shape[0]), out.hidden_states):
        embeddings[f"{name}/{layer}"] = hidden.detach().numpy()
    refusals = {}
    mono = [clip[:1] for clip in clips]
    for what, call in (("rate", lambda: extractor(clips, sampling_rate=44100)),
                       ("channels", lambda: extractor(mono, sampling_rate=16000))):
        try:
            call()
            refusals[what] = None
        except ValueError as error:
            refusals[what] = str(error)
    report[name] = {"config": type(config).__module__, "model": type(model).__module__,
                    "extractor": type(extractor).__module__, "model_type": config.model_type,
                    "refusals": refusals}
for name, code in snippets.items():
    namespace = {}
    exec(code, namespace)
    for layer, hidden in namespace["layers"].items():
        embeddings[f"card:{name}/{layer}"] = hidden.detach().numpy()
model.save_pretrained("resaved")  # a Hub user saving the loaded model again
AutoModel.from_pretrained("resaved", trust_remote_code=True)
AutoFeatureExtractor.from_pretrained("resaved", trust_remote_code=True)
report["resaved"] = sorted(p.name for p in Path("resaved").iterdir())
np.savez(sys.argv[4], **embeddings)
report["sarl_modules"] = sorted(m for m in sys.modules if m.split(".")[0] == "sarl_hf")
print(json.dumps(report))
'''


def noise(channels, samples, seed):
    return np.random.default_rng(seed).standard_normal((channels, samples)).astype(np.float32)


def card_snippet(name: str) -> str:
    """The card's "without the package" example: its one ``py`` block."""
    text = (REPO / "model_cards" / name / "README.md").read_text()
    blocks = re.findall(r"^```py\n(.*?)^```", text, re.M | re.S)
    assert len(blocks) == 1, f"{name}: one py block (the Hub user's example) expected"
    return blocks[0]


def run_as_hub_user(tmp_path, clips: dict) -> tuple[dict, dict]:
    """Save every folder, copy them out of the repository and load them in ``python -I``
    (no PYTHONPATH, no user site, cwd outside the worktree) with sarl_hf refused."""
    elsewhere = tmp_path / "elsewhere"
    for name, (make, _, _) in FOLDERS.items():
        make().save_pretrained(tmp_path / "saved" / name)
        shutil.copytree(tmp_path / "saved" / name, elsewhere / name)
    np.savez(tmp_path / "audio.npz", **{f"{name}/{k}": clip for name, group in clips.items()
                                        for k, clip in enumerate(group)})
    script = tmp_path / "hub_user.py"
    script.write_text(HUB_USER)
    snippets = {name: card_snippet(name) for name in ("sarl-spatial", "sarl-logmel")}
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1",
           "HF_MODULES_CACHE": str(tmp_path / "modules"), "TRANSFORMERS_VERBOSITY": "error"}
    result = subprocess.run(
        [sys.executable, "-I", str(script), str(tmp_path / "audio.npz"), json.dumps(list(FOLDERS)),
         json.dumps(snippets), str(tmp_path / "hub.npz")],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1]), dict(np.load(tmp_path / "hub.npz"))


def test_a_saved_folder_loads_without_the_package_and_embeds_alike(tmp_path):
    clips = {name: [noise(channels, 12000, 1), noise(channels, 7000, 2)]
             for name, (_, _, channels) in FOLDERS.items()}
    report, hub = run_as_hub_user(tmp_path, clips)
    assert report.pop("sarl_modules") == []
    assert set(report.pop("resaved")) >= CODE_FILES | {"config.json", "model.safetensors",
                                                       "preprocessor_config.json"}
    for name, (_, encoder_class, channels) in FOLDERS.items():
        loaded = report[name]
        assert all(loaded[k].startswith("transformers_modules.")
                   for k in ("config", "model", "extractor")), loaded
        assert loaded["model_type"] in name
        assert "44100 Hz, this model takes 16000 Hz" in loaded["refusals"]["rate"]
        if name.endswith("foa"):
            assert "foa audio of 4 channels (W, Y, Z, X), got 1" in loaded["refusals"]["channels"]
        want = encoder_class(str(tmp_path / "saved" / name), channel_policy="native"
                             if encoder_class is SpatialEncoder else "downmix").embed(
            clips[name], FS)
        got = {key.split("/", 1)[1]: value for key, value in hub.items()
               if key.startswith(name + "/")}
        assert list(got) == list(want)
        for layer in want:
            np.testing.assert_allclose(got[layer], want[layer], rtol=1e-5, atol=1e-6,
                                       err_msg=f"{name} {layer}")
    card_audio = noise(2, 32000, 0)
    for name, encoder in (("sarl-spatial", SpatialEncoder()), ("sarl-logmel", LogMelEncoder())):
        want = encoder.embed([card_audio], FS)
        got = {k.split("/", 1)[1]: v for k, v in hub.items() if k.startswith(f"card:{name}/")}
        assert list(got) == list(want)
        for layer in want:
            np.testing.assert_allclose(got[layer], want[layer], rtol=1e-5, atol=1e-6)


def _top_level_imports(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name.split(".")[0], 0) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield (node.module or "").split(".")[0], node.level


def test_the_copied_code_imports_only_torch_numpy_transformers_and_itself(tmp_path):
    SarlSpatialModel(SarlSpatialConfig()).save_pretrained(tmp_path)
    copied = {p.name for p in tmp_path.glob("*.py")}
    assert copied == CODE_FILES
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["auto_map"] == {"AutoConfig": "reference_configs.SarlSpatialConfig",
                                  "AutoModel": "reference_models.SarlSpatialModel"}
    for name in copied:
        imports = set(_top_level_imports(ast.parse((tmp_path / name).read_text())))
        relative = {module for module, level in imports if level}
        assert all(level in (0, 1) for _, level in imports), name  # no "from .." imports
        assert {f"{module}.py" for module in relative} <= copied, name
        assert {module for module, level in imports if not level} <= ALLOWED_IMPORTS, name


@pytest.mark.parametrize("n_fft, f_min, f_max, n_mels, rate", [
    (400, 50.0, 8000.0, 64, 16000), (512, 0.0, 4000.0, 40, 8000),
    (1024, 20.0, 22050.0, 128, 44100)])
def test_the_mel_filterbank_is_torchaudios_bit_for_bit(n_fft, f_min, f_max, n_mels, rate):
    functional = pytest.importorskip("torchaudio.functional")
    want = functional.melscale_fbanks(n_fft // 2 + 1, f_min, f_max, n_mels, rate, norm=None,
                                      mel_scale="htk")
    got = htk_mel_filterbank(n_fft // 2 + 1, f_min, f_max, n_mels, rate)
    assert got.dtype == want.dtype and torch.equal(got, want)


def test_push_to_hub_from_save_pretrained_pushes_the_whole_folder(tmp_path, monkeypatch):
    model = SarlSpatialModel(SarlSpatialConfig())
    pushed = []
    monkeypatch.setattr(model, "push_to_hub", lambda repo_id, **kw: pushed.append((repo_id, kw)))
    model.save_pretrained(tmp_path / "my-sarl-spatial", push_to_hub=True, commit_message="up")
    assert pushed == [("my-sarl-spatial", {"commit_message": "up"})]
    assert (tmp_path / "my-sarl-spatial" / "preprocessor_config.json").is_file()
