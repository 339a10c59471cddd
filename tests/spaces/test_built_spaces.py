"""The built Spaces as the Hub would build them: their requirements resolve for their
``python_version`` (pip's resolver, dry run, against the package index), and each app,
launched from a copy of its built folder outside the repository in an isolated Python
(``python -I``: no PYTHONPATH, no user site; the venv's editable install of sarl_hf is not
the one imported), answers its endpoints. In the probe's process the evaluate module
loads by path from the copy and names its homepage, code and licence."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from gradio_client import Client
from gradio_client import handle_file

from sarl_hf.publishing import SPACES
from sarl_hf.publishing import build_space
from sarl_hf.publishing.space_card import read_header

#: Run in the copy: what ``python app.py`` does (the app's folder first on sys.path), then
#: on SIGTERM the sarl_hf modules imported from anywhere else.
BOOT = """
import os, runpy, signal, sys
here = os.getcwd()
sys.path.insert(0, here)
import sarl_hf
print("sarl_hf from", sarl_hf.__file__, flush=True)
{preamble}
def stop(*_):
    outside = sorted(n for n, m in list(sys.modules.items()) if n.split(".")[0] == "sarl_hf"
                     and not (getattr(m, "__file__", None) or here).startswith(here))
    print("outside", outside, flush=True)
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
runpy.run_path(os.path.join(here, "app.py"), run_name="__main__")
"""
NETWORK_TROUBLE = ("NewConnectionError", "Failed to establish", "Temporary failure in name",
                   "Network is unreachable", "ConnectTimeout", "Read timed out")


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    """Each Space built, then copied to a folder of its own outside the repository."""
    built = tmp_path_factory.mktemp("built")
    out = {}
    for name in SPACES:
        folder = build_space(name, built)
        out[name] = shutil.copytree(folder, tmp_path_factory.mktemp("copy") / name)
    return out


def _isolated_env(tmp_path, **extra):
    """Only what a Space's process would have; Python's own variables are ignored (-I)."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
            "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
            "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_TEMP_DIR": str(tmp_path / "gradio"),
            "MPLCONFIGDIR": str(tmp_path / "mpl"), **extra}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(folder, tmp_path, preamble="", **env):
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-I", "-c", BOOT.format(preamble=preamble)],
                               cwd=folder,
                               env=_isolated_env(tmp_path, GRADIO_SERVER_NAME="127.0.0.1",
                                                 GRADIO_SERVER_PORT=str(port), **env),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return process, url
        except OSError:
            time.sleep(1)
    process.kill()
    raise AssertionError(f"the app did not answer at {url}: {process.communicate()[0][-3000:]}")


def _stop(process, folder):
    """Stop the app; what it printed: sarl_hf came from the copy, and nothing else did."""
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=60)[0]
    assert f"sarl_hf from {folder / 'sarl_hf' / '__init__.py'}\n" in output, output[-3000:]
    assert "outside []\n" in output, output[-3000:]
    return output


@pytest.mark.slow
def test_requirements_resolve_for_the_space_python(copies, tmp_path):
    """pip's resolver against the index, for each distinct requirements.txt (the two
    Spaces may share one)."""
    resolved = {}
    for name, folder in copies.items():
        python = str(read_header(folder / "README.md")["python_version"])
        key = (python, (folder / "requirements.txt").read_text())
        if key in resolved:
            continue
        report = tmp_path / f"{name}.json"
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
             "--python-version", python, "--only-binary=:all:", "--quiet", "--report",
             str(report), "-r", str(folder / "requirements.txt")],
            capture_output=True, text=True, timeout=900)
        if done.returncode and any(t in done.stderr for t in NETWORK_TROUBLE):
            pytest.skip(f"the package index is unreachable: {done.stderr[-300:]}")
        assert done.returncode == 0, done.stderr[-3000:]
        versions = {item["metadata"]["name"].lower(): item["metadata"]["version"]
                    for item in json.loads(report.read_text())["install"]}
        assert versions["torch"] == "2.9.1" and versions["torchcodec"].startswith("0.9.")
        assert versions["gradio"] == str(read_header(folder / "README.md")["sdk_version"])
        assert "sarl-hf" not in versions and "sarl_hf" not in versions
        resolved[key] = versions
    assert resolved


@pytest.mark.slow
def test_the_explorer_from_its_copy_answers_its_endpoints(copies, tmp_path):
    folder = copies["sarl_explorer"]
    process, url = _launch(folder, tmp_path, SARL_EXPLORER_SOURCES="procedural")
    try:
        client = Client(url, verbose=False, download_files=str(tmp_path))
        scene = ("stereo", 30.0, 0.0, 1.0, "pink_noise", 0.5, 80.0, "shoebox", 1.0, 0)
        audio, room, labels = client.predict(*scene, api_name="/render")
        assert "azimuth 30.0°" in labels and room["plot"].startswith("data:image/png")
        _, sweep = client.predict("sarl-spatial", *scene, "azimuth", 4, "cosine",
                                  api_name="/sweep")
        assert len(sweep["distances"]) == 4 and sweep["distances"][sweep["anchor_index"]] == 0
        table, images = client.predict(None, True, api_name="/results")
        demo = json.loads((folder / "demo_results.json").read_text())
        assert all(f"| {encoder} | binaural |" in table for encoder in demo["encoders"])
        assert len(images) == 3
    finally:
        _stop(process, folder)


def _example(folder, path):
    spec = importlib.util.spec_from_file_location("built_probe_app", folder / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # numpy and evaluate only, at import
    return module.write_example(path, n=150)


#: Before the probe's page starts, in its process: the evaluate module loaded by path from
#: the copy, and what its info names.
LOAD = """
import json, evaluate
info = evaluate.load(here, "azimuth").info
print("info", json.dumps({"homepage": info.homepage, "codebase_urls": info.codebase_urls,
                           "license": info.license, "protocol":
                           sys.modules["sarl_hf.probing.protocol"].__file__}), flush=True)
"""


@pytest.mark.slow
def test_the_probe_from_its_copy_loads_the_module_and_answers(copies, tmp_path):
    folder = copies["sarl_probe"]
    process, url = _launch(folder, tmp_path, preamble=LOAD)
    try:
        client = Client(url, verbose=False, download_files=str(tmp_path))
        example = _example(folder, tmp_path / "rows.npz")
        table, results = client.predict(handle_file(example), "azimuth", "torch", 20, 0,
                                        api_name="/evaluate")
        assert results["accuracy"] > results["chance_accuracy"] and results["n_test"] == 30
        assert "| accuracy |" in table
    finally:
        output = _stop(process, folder)
    line = next(line for line in output.splitlines() if line.startswith("info "))
    info = json.loads(line[len("info "):])
    assert info["protocol"] == str(folder / "sarl_hf" / "probing" / "protocol.py")
    assert info["homepage"].startswith("https://huggingface.co/spaces/")
    assert info["codebase_urls"] == [f"{info['homepage']}/tree/main"]
    assert info["license"] == "apache-2.0"


def test_the_explorer_offers_ge2e_only_with_resemblyzer(copies, monkeypatch):
    spec = importlib.util.spec_from_file_location("built_explorer_app",
                                                  copies["sarl_explorer"] / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "resemblyzer" else real(name, *a))
    offered = module.offered_encoders()
    assert "ge2e" not in offered and {"sarl-spatial", "sarl-logmel", "crepe-tiny"} <= set(
        offered)
    monkeypatch.setattr(importlib.util, "find_spec", real)
    assert ("ge2e" in module.offered_encoders()) == (real("resemblyzer") is not None)
