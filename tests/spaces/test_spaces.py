"""The two Spaces, launched on localhost: every endpoint through ``gradio_client``, and the
pages in headless Chromium (Debian's ``chromium`` driven by Playwright, no browser
download). Each app is launched once for the module."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import socket
import time
import zipfile
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile as sf  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

SPACES = Path(__file__).resolve().parents[2] / "spaces"
CHROMIUM = os.environ.get("SARL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking"]
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=(
    "no chromium browser: `make test` installs Debian's chromium (scripts/system_deps.sh), "
    "or set SARL_CHROMIUM to one"))
SCENE = ("stereo", 30.0, 20.0, 1.0, "pink_noise", 0.5, 80.0, "hexagonal", 1.5, 3)


def _app(name):
    spec = importlib.util.spec_from_file_location(f"{name}_space_app", SPACES / name / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(demo, max_file_size):
    demo.launch(server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True,
                quiet=True, max_file_size=max_file_size, ssr_mode=False)
    return demo.local_url


@pytest.fixture(scope="module", autouse=True)
def gradio_cache(tmp_path_factory):
    """Gradio's file cache (uploads and served outputs) in the tests' temporary folder."""
    saved = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(tmp_path_factory.mktemp("gradio_cache"))
    yield
    if saved is None:
        del os.environ["GRADIO_TEMP_DIR"]
    else:
        os.environ["GRADIO_TEMP_DIR"] = saved


@pytest.fixture(scope="module")
def explorer(tmp_path_factory):
    app = _app("sarl_explorer")
    demo = app.build_demo(sources="procedural", workdir=tmp_path_factory.mktemp("explorer"))
    yield _launch(demo, f"{app.MAX_UPLOAD_MB}mb"), app
    demo.close()


@pytest.fixture(scope="module")
def prober(tmp_path_factory):
    app = _app("sarl_probe")
    folder = tmp_path_factory.mktemp("sarl_probe")
    demo = app.build_demo(example_dir=folder)
    yield _launch(demo, f"{app.MAX_FILE_MB}mb"), app, folder, demo
    demo.close()


@pytest.fixture
def client(request, tmp_path):
    url = request.getfixturevalue(request.param)[0]
    return Client(url, verbose=False, download_files=str(tmp_path))


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _uploaded_results(folder, name="my-encoder"):
    """The demo results with their first encoder renamed: an upload to compare."""
    results = json.loads((SPACES / "sarl_explorer" / "demo_results.json").read_text())
    first = next(iter(results["encoders"]))
    results["encoders"] = {name: results["encoders"][first]}
    path = Path(folder) / "results.json"
    path.write_text(json.dumps(results))
    return path


# ---- gradio_client: every endpoint --------------------------------------------------------

@pytest.mark.parametrize("client", ["explorer"], indirect=True)
def test_explorer_render_endpoint(client):
    for channel_format, channels in (("stereo", 2), ("foa", 4)):
        audio, room, labels = client.predict(channel_format, *SCENE[1:], api_name="/render")
        data, rate = sf.read(audio, always_2d=True)
        assert rate == 16000 and data.shape == (int(1.5 * 16000), channels)
        assert np.abs(data).max() > 1e-3
        assert "azimuth 30.0°, elevation 20.0°, 1.00 m" in labels
        assert "hexagonal, 80 m³" in labels and f"{channels} (" in labels
        assert room["type"] == "matplotlib" and room["plot"].startswith("data:image/png")
    again = client.predict(*SCENE, api_name="/render")[0]
    assert Path(again).read_bytes() == Path(client.predict(*SCENE, api_name="/render")[0]
                                            ).read_bytes()
    with pytest.raises(AppError, match="greater than maximum value 4"):  # bounded duration
        client.predict(*SCENE[:8], 9.0, 0, api_name="/render")
    with pytest.raises(AppError, match="trumpet is not in the list of choices"):
        client.predict(*SCENE[:4], "trumpet", *SCENE[5:], api_name="/render")


@pytest.mark.parametrize("client", ["explorer"], indirect=True)
def test_explorer_sweep_endpoint(client):
    curve, sweep = client.predict("sarl-spatial", *SCENE, "azimuth", 6, "cosine",
                                  api_name="/sweep")
    assert curve["plot"].startswith("data:image/png")
    assert len(sweep["values"]) == len(sweep["distances"]) == 6
    assert sweep["values"][sweep["anchor_index"]] == 30.0
    assert sweep["distances"][sweep["anchor_index"]] == 0.0
    assert min(d for k, d in enumerate(sweep["distances"]) if k != sweep["anchor_index"]) > 0
    assert (sweep["encoder"], sweep["layer"], sweep["metric"]) == ("sarl-spatial", "all",
                                                                  "cosine")
    _, shapes = client.predict("sarl-logmel", *SCENE, "shape", 6, "euclidean",
                               api_name="/sweep")
    assert shapes["values"] == ["shoebox", "l_shaped", "t_shaped", "hexagonal"]
    assert shapes["distances"][3] == 0.0 and min(shapes["distances"][:3]) > 0
    with pytest.raises(AppError, match="greater than maximum value 12"):  # bounded sweep
        client.predict("sarl-spatial", *SCENE, "distance", 40, "cosine", api_name="/sweep")
    with pytest.raises(AppError, match="Hugging Face Hub is unreachable"):
        client.predict("sarl-test/no-such-model", *SCENE, "azimuth", 4, "cosine",
                       api_name="/sweep")
    with pytest.raises(AppError, match="encoder must be one of"):
        client.predict("hear:os", *SCENE, "azimuth", 4, "cosine", api_name="/sweep")


@pytest.mark.parametrize("client", ["explorer"], indirect=True)
def test_explorer_results_endpoint(client, tmp_path):
    demo = json.loads((SPACES / "sarl_explorer" / "demo_results.json").read_text())
    table, images = client.predict(None, True, api_name="/results")
    for encoder in demo["encoders"]:
        assert f"| {encoder} | binaural |" in table
    assert len(images) == 3 and all(Path(i["image"]).stat().st_size > 5000 for i in images)
    upload = handle_file(str(_uploaded_results(tmp_path)))
    table, _ = client.predict(upload, True, api_name="/results")
    assert "| my-encoder | binaural |" in table and "| sarl-logmel | binaural |" in table
    table, _ = client.predict(upload, False, api_name="/results")
    assert "| my-encoder |" in table and "sarl-logmel" not in table
    (tmp_path / "other.json").write_text(json.dumps({"encoders": {"x": {}}, "more": [1]}))
    with pytest.raises(AppError, match="not a sarl bench results file"):
        client.predict(handle_file(str(tmp_path / "other.json")), True, api_name="/results")


@pytest.mark.parametrize("client", ["prober"], indirect=True)
def test_probe_evaluate_endpoint(client, prober, tmp_path):
    app = prober[1]
    example = app.write_example(tmp_path / "rows.npz", n=150)
    table, results = client.predict(handle_file(example), "all", "torch", 50, 0,
                                    api_name="/evaluate")
    for task in ("azimuth", "elevation", "class", "shape"):
        assert 0 <= results[f"{task}/accuracy"] <= 1
        assert f"| {task}/accuracy |" in table
    assert results["azimuth/accuracy"] > results["azimuth/chance_accuracy"]
    assert results["azimuth/n_test"] == 30
    with pytest.raises(AppError, match="less than minimum value 1"):  # bounded resamples
        client.predict(handle_file(example), "azimuth", "torch", 0, 0, api_name="/evaluate")
    (tmp_path / "rows.csv").write_text("split,class\ntrain,0\n")
    with pytest.raises(AppError, match="no embedding columns"):
        client.predict(handle_file(str(tmp_path / "rows.csv")), "class", "torch", 10, 0,
                       api_name="/evaluate")


# ---- hostile files over HTTP: refused before the work, and the server still answers ------

def _npz(path, members: dict):
    """An NPZ whose members are (shape, dtype) of zeros, streamed (never held in memory),
    or arrays; ``{name: (shape, dtype, claimed_shape)}`` writes a header that lies."""
    from numpy.lib import format as npy

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, value in members.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as handle:
                if isinstance(value, np.ndarray):
                    np.lib.format.write_array(handle, value, allow_pickle=False)
                    continue
                shape, dtype, claimed = (tuple(value) + (None,))[:3]
                npy.write_array_header_1_0(handle, {"descr": npy.dtype_to_descr(
                    np.dtype(dtype)), "fortran_order": False, "shape": claimed or shape})
                remaining = int(np.prod(shape)) * np.dtype(dtype).itemsize
                block = bytes(1 << 24)
                while remaining > 0:
                    handle.write(block[:min(remaining, len(block))])
                    remaining -= len(block)
    return str(path)


def _hostile_files(app, folder):
    """(file, task, resamples, what the refusal says) for each way the issue broke the page."""
    rows = np.load(app.write_example(folder / "rows.npz", n=150))
    arrays = {name: rows[name] for name in rows.files}
    classes = folder / "class_ids.npz"
    np.savez_compressed(classes, **{**arrays, "class": arrays["class"] * 10**7})
    splits = np.array(["train"] * 50_000)
    many_tests = np.array(["train"] * 10_000 + ["validation"] * 5_000 + ["test"] * 20_000)
    test_rows = {"embeddings": np.zeros((len(many_tests), 4), np.float32),
                 "splits": many_tests, "azimuth": np.linspace(0, 359, len(many_tests))}
    return [
        (str(classes), "class", 50, "class id 30000000 at row"),
        (_npz(folder / "wide.npz", {"embeddings": ((50_000, 4_096), "float32"),
                                    "splits": splits}), "all", 50, "the NPZ unpacks to 782 MB"),
        (_npz(folder / "many.npz", {"embeddings": ((50_000, 400), "float32"),
                                    "splits": splits}), "all", 50, "50000 x 400; this page takes up"),
        (_npz(folder / "lying.npz", {"embeddings": ((4, 4), "float32", (10**9, 4096)),
                                     "splits": splits}), "all", 50, "holds less data"),
        (_npz(folder / "bootstrap.npz", test_rows), "azimuth", 10_000,
         "more bootstrap than this page runs"),
    ]


def test_probe_page_refuses_hostile_files_and_keeps_answering(prober, tmp_path):
    url, app, _, demo = prober
    client = Client(url, verbose=False, download_files=str(tmp_path))
    for path, task, n_boot, refusal in _hostile_files(app, tmp_path):
        start = time.monotonic()
        with pytest.raises(AppError, match=re.escape(refusal)):
            client.predict(handle_file(path), task, "torch", n_boot, 0, api_name="/evaluate")
        assert time.monotonic() - start < 60, path  # refused before the work, not after
    example = app.write_example(tmp_path / "normal.npz", n=150)
    _, results = client.predict(handle_file(example), "class", "torch", 20, 0,
                                api_name="/evaluate")
    assert results["n_test"] == 30  # the server still answers a normal request
    assert demo._queue.max_size == app.MAX_QUEUE  # bounded queue and concurrency
    assert [f.concurrency_limit for f in demo.fns.values() if f.api_name == "evaluate"] == [
        app.MAX_CONCURRENT]


@pytest.mark.parametrize("client", ["explorer"], indirect=True)
def test_explorer_refuses_a_server_folder_and_bad_results(client, tmp_path, monkeypatch):
    from tiny_models import save_tiny

    save_tiny("wav2vec2", tmp_path / "evil" / "model")
    monkeypatch.chdir(tmp_path)  # the folder is relative to the server's working directory
    with pytest.raises(AppError, match="names a folder on this server, which this page never"):
        client.predict("evil/model", *SCENE, "azimuth", 4, "cosine", api_name="/sweep")
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(AppError, match="nested too deeply"):
        client.predict(handle_file(str(nested)), True, api_name="/results")
    _, sweep = client.predict("sarl-logmel", *SCENE, "azimuth", 4, "cosine", api_name="/sweep")
    assert len(sweep["distances"]) == 4  # the server still answers a normal request


# ---- the pages in Chromium --------------------------------------------------------------

def _set_number(page, elem_id, value):
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")
    box.blur()


def _choose(page, elem_id, option):
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option, exact=True).click()


@needs_chromium
def test_explorer_in_the_browser(explorer, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(explorer[0])
    page.wait_for_selector("#render")
    page.get_by_label("stereo", exact=True).check()
    for elem_id, value in (("azimuth", 90), ("elevation", -20), ("distance", 2),
                           ("rt60", 0.8), ("volume", 150)):
        _set_number(page, elem_id, value)
    _choose(page, "class", "clicks")
    _choose(page, "shape", "l_shaped")
    page.click("#render")
    page.wait_for_selector("#audio audio", state="attached", timeout=30_000)
    page.wait_for_selector("#room img", timeout=30_000)
    labels = page.locator("#labels").inner_text()
    assert "azimuth 90.0°, elevation -20.0°, 2.00 m" in labels
    assert "clicks" in labels and "l_shaped, 150 m³" in labels
    assert "2 (left, right), 32000 samples" in labels

    _choose(page, "factor", "distance")
    _set_number(page, "points", 5)
    page.click("#sweep")
    page.wait_for_selector("#curve img", timeout=30_000)
    page.wait_for_function("document.querySelector('#sweep_json').innerText"
                           ".includes('distances')")
    shown = "".join(page.locator("#sweep_json").inner_text().split())
    assert '"factor":"distance"' in shown and '"values":[0.5,' in shown
    page.screenshot(path=str(tmp_path / "explorer.png"), full_page=True)

    page.locator("#encoder input").fill("sarl-test/no-such-model")
    page.locator("#encoder input").press("Enter")
    page.click("#sweep")
    page.get_by_text("Hugging Face Hub is unreachable").first.wait_for(timeout=30_000)
    page.wait_for_timeout(500)  # the message slides in
    page.screenshot(path=str(tmp_path / "offline.png"))

    page.get_by_role("tab", name="Probe results").click()
    table = page.locator("#results_table")
    table.get_by_text("sarl-spatial", exact=True).first.wait_for()
    assert "crepe-tiny" in table.inner_text()
    assert page.locator("#results_plots img").count() >= 3
    page.locator("#upload input[type=file]").set_input_files(str(_uploaded_results(tmp_path)))
    page.click("#show")
    table.get_by_text("my-encoder", exact=True).first.wait_for(timeout=30_000)
    page.screenshot(path=str(tmp_path / "results.png"), full_page=True)
    page.close()
    for shot in ("explorer.png", "offline.png", "results.png"):
        assert (tmp_path / shot).stat().st_size > 50_000


@needs_chromium
def test_probe_page_in_the_browser(prober, browser, tmp_path):
    url, app, _, _ = prober
    page = browser.new_page(viewport={"width": 1300, "height": 1400})
    page.goto(url)
    example = app.write_example(tmp_path / "rows.npz", n=150)
    page.locator("input[type=file]").first.set_input_files(example)
    page.get_by_label("task").click()
    page.get_by_role("option", name="elevation", exact=True).click()
    page.get_by_label("bootstrap resamples").fill("50")
    page.get_by_role("button", name="Submit").click()
    metrics = page.locator("#metrics")
    metrics.get_by_role("cell", name="mae_deg", exact=True).wait_for(timeout=30_000)
    assert "| metric |" not in metrics.inner_text()  # a table, not its Markdown source
    for cell in ("accuracy", "macro_f1", "n_test"):
        assert metrics.get_by_role("cell", name=cell, exact=True).count() == 1
    assert metrics.get_by_role("columnheader", name="chance", exact=True).count() == 1
    shown = "".join(page.locator("#results").inner_text().split())
    assert '"n_test":30' in shown and '"mae_deg":' in shown
    bad = tmp_path / "rows.csv"
    bad.write_text("split,class\ntrain,0\n")
    page.locator("button[aria-label=Clear]").first.click()  # the uploaded file
    page.locator("input[type=file]").first.set_input_files(str(bad))
    page.get_by_role("button", name="Submit").click()
    page.get_by_text("no embedding columns").first.wait_for(timeout=30_000)
    page.screenshot(path=str(tmp_path / "probe.png"), full_page=True)
    page.close()
    assert (tmp_path / "probe.png").stat().st_size > 20_000
