"""``sarl bench`` end to end on a tiny configuration."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from conftest import OracleEncoder, hold_lock, run_cli
from tiny_models import save_tiny_clap_with_text

from sarl_hf.encoders import ENCODERS, load_encoder, register_encoder
from sarl_hf.probing.tasks import TASK_NAMES

ARGS = ["--scenes", "30", "--duration", "0.5", "--encoders", "sarl-spatial,sarl-logmel",
        "--formats", "stereo", "--sensitivity-anchors", "2", "--multisource-scenes", "20",
        "--n-boot", "50", "--no-progress"]


def test_bench_writes_the_report_and_reuses_its_work(tmp_path):
    out = tmp_path / "bench"
    code, stdout, stderr = run_cli(["bench", "--out", str(out)] + ARGS)
    assert code == 0, stderr
    results = json.loads((out / "results.json").read_text())
    assert list(results["encoders"]) == ["sarl-spatial", "sarl-logmel"]  # as requested
    spatial = results["encoders"]["sarl-spatial"]["stereo"]
    model_order = load_encoder("sarl-spatial", channel_format="stereo").layers
    assert list(spatial["layers"]) == list(model_order) != sorted(model_order)
    assert list(spatial["layers"]["gcc_phat"]) == list(TASK_NAMES)
    for task in TASK_NAMES:
        best = spatial["layers"][spatial["best_layer"][task]][task]
        assert 0 <= best["accuracy"] <= 1 and 0 <= best["chance_accuracy"] <= 1
        assert best["num_classes"] >= 4
    assert set(spatial["sensitivity"]["all"]) == set(TASK_NAMES)
    for factor, metrics in spatial["multisource"]["gcc_phat"].items():
        assert 0 <= metrics["source_accuracy"] <= 1, factor
        assert metrics["n_train"] == 12 and metrics["n_test"] == 4
    assert "angular_error_deg" in spatial["multisource"]["gcc_phat"]["azimuth"]
    assert spatial["metadata"]["input_configuration"] == "stereo"
    assert spatial["metadata"]["paradigm"] == "handcrafted"
    logmel = results["encoders"]["sarl-logmel"]["stereo"]["metadata"]
    assert logmel["input_configuration"] == "mono" and logmel["parameters"] == 0
    assert "retrieval" not in spatial  # no text tower
    report = (out / "results.md").read_text()
    assert "| stereo | sarl-spatial (stereo) |" in report
    assert "| mono | sarl-logmel (stereo) |" in report
    assert "| handcrafted | sarl-spatial (stereo), sarl-logmel (stereo) |" in report
    assert "| sarl-spatial | stereo |" in report and "| chance |" in report
    assert "Multisource scenes" in report and "MLP probe" not in report
    for name in ("accuracy.png", "layers.png", "sensitivity.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    assert "results.md" in stdout
    who = "[1/2] sarl-spatial on stereo"
    for stage in ("probe (7 tasks per layer)", "multisource", "sensitivity"):
        assert f"{who}: {stage} ...\n{who}: {stage}: done in " in stderr, stage
    assert f"report: results.json, results.md and plots in {out}: done in" in stderr
    parts = sorted(p.stat().st_mtime_ns for p in (out / "embeddings").rglob("*.parquet"))
    code, _, stderr = run_cli(["bench", "--out", str(out)] + ARGS)
    assert code == 0, stderr
    for stage in ("probe (7 tasks per layer)", "multisource"):
        assert f"{who}: {stage}: cached (probe-" in stderr, stage
    assert f"corpus {out / 'corpus'}: cached" in stderr
    assert "embedding stereo (sarl-spatial): cached" in stderr
    assert "embedding sensitivity-stereo (sarl-logmel): cached (test)" in stderr
    assert json.loads((out / "results.json").read_text()) == results  # same seed, same numbers
    again = sorted(p.stat().st_mtime_ns for p in (out / "embeddings").rglob("*.parquet"))
    assert again == parts  # embeddings were reused, not recomputed
    code, stdout, _ = run_cli(["verify", str(out)])
    assert code == 0 and "sarl bench output" in stdout

    part = sorted((out / "embeddings").rglob("stereo/test/*.parquet"))[0]
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit
    part.write_bytes(bytes(data))
    stored = sorted(p for p in (out / "embeddings").rglob("stereo/probe-*.json")
                    if "-mlp-" not in p.name)  # one linear probe per encoder: cheap to redo
    stored[0].write_text("")
    text = bytearray(stored[1].read_bytes())
    digit = next(i for i in range(text.index(b"accuracy"), len(text)) if 49 <= text[i] <= 57)
    text[digit] ^= 0x01  # one flipped bit: still valid JSON, another number
    stored[1].write_bytes(bytes(text))
    with pytest.warns(UserWarning) as warned:
        code, _, stderr = run_cli(["bench", "--out", str(out)] + ARGS)
    assert code == 0, stderr
    said = " ".join(str(w.message) for w in warned)
    assert f"{part} is missing or does not match its checksum" in said
    assert f"{stored[0]} is not stored probe results" in said
    assert f"{stored[1]} does not match its sha256" in said
    assert json.loads((out / "results.json").read_text()) == results  # the same numbers

    # the MLP probe on the layers chosen above (one encoder: its cost is the MLP's alone)
    mlp_args = ARGS[:ARGS.index("--encoders")] + ["--encoders", "sarl-spatial"] \
        + ARGS[ARGS.index("--encoders") + 2:] + ["--mlp"]
    code, _, stderr = run_cli(["bench", "--out", str(out)] + mlp_args)
    assert code == 0, stderr
    who = "[1/1] sarl-spatial on stereo"
    assert f"{who}: probe (7 tasks per layer): cached (probe-" in stderr
    assert f"{who}: MLP probe ...\n{who}: MLP probe: done in " in stderr
    with_mlp = json.loads((out / "results.json").read_text())["encoders"]["sarl-spatial"]
    assert with_mlp["stereo"]["layers"] == spatial["layers"]  # the linear probes reused
    assert "MLP probe" in (out / "results.md").read_text()
    for task in TASK_NAMES:
        mlp = with_mlp["stereo"]["mlp"][task]
        assert 0 <= mlp["accuracy"] <= 1 and mlp["n_test"] == 6
        assert mlp["layer"] == spatial["best_layer"][task]


def test_bench_refuses_a_folder_in_use(tmp_path):
    holder = hold_lock(tmp_path)
    try:
        code, _, stderr = run_cli(["bench", "--out", str(tmp_path)] + ARGS)
    finally:
        holder.kill()
        holder.wait()
    assert code == 2 and f"in use by PID {holder.pid}" in stderr
    assert not (tmp_path / "corpus").exists()


def test_bench_refuses_a_single_sensitivity_anchor(tmp_path):
    code, _, stderr = run_cli(["bench", "--out", str(tmp_path), "--sensitivity-anchors", "1"])
    assert code == 2 and "at least 2" in stderr


@pytest.fixture
def oracle(tmp_path):
    """``oracle``: :class:`conftest.OracleEncoder` on the corpus of ``tmp_path / "bench"``."""
    register_encoder("oracle", lambda argument, channel_format, options: OracleEncoder(
        tmp_path / "bench" / "corpus", **options))
    yield "oracle"
    ENCODERS.unregister("oracle")


def test_bench_takes_plugins_and_audio_text_models_and_scores_retrieval(tmp_path, oracle,
                                                                       binaural_plugin):
    clap = save_tiny_clap_with_text(tmp_path / "tiny-clap")
    out = tmp_path / "bench"
    args = ["--scenes", "20", "--duration", "0.5", "--formats", "stereo", "--n-boot", "50",
            "--sensitivity-anchors", "0", "--multisource-scenes", "20", "--no-progress",
            "--encoders", f"{binaural_plugin},{clap},{oracle}"]
    code, stdout, stderr = run_cli(["bench", "--out", str(out)] + args)
    assert code == 0, stderr
    results = json.loads((out / "results.json").read_text())
    plugin = results["encoders"][binaural_plugin]["stereo"]
    assert plugin["metadata"]["layout"] == "binaural" and "retrieval" not in plugin
    assert plugin["metadata"]["input_configuration"] == "stereo"
    assert list(plugin["layers"]) == ["ild", "levels"]
    perfect = results["encoders"][oracle]["stereo"]["retrieval"]
    assert perfect["n_scenes"] == 20 and perfect["layer"] == "projection"
    for direction in ("audio_to_text", "text_to_audio"):
        assert perfect[direction]["recall@1"] == 1.0
    assert perfect["content_position"]["accuracy"] == 1.0
    tiny = results["encoders"][str(clap)]["stereo"]
    assert tiny["metadata"]["paradigm"] == "contrastive audio-text"
    scores = tiny["retrieval"]
    assert 0 <= scores["audio_to_text"]["recall@10"] <= 1 and scores["content_position"][
        "n_scenes"] > 0
    low, high = scores["content_position"]["accuracy_ci"]
    assert 0 <= low <= scores["content_position"]["accuracy"] <= high <= 1
    report = (out / "results.md").read_text()
    assert "Audio–text retrieval" in report and "| oracle | stereo | 100.0 [100.0, 100.0]" in report
    assert "| contrastive audio-text |" in report and "| stereo |" in report


def test_bench_with_a_hub_short_name_offline_fails_in_one_line(tmp_path):
    code, _, stderr = run_cli(["bench", "--out", str(tmp_path), "--scenes", "10",
                               "--duration", "0.5", "--formats", "mono",
                               "--sensitivity-anchors", "0", "--encoders", "wav2vec2-base",
                               "--no-progress"])
    *stages, error = stderr.splitlines()  # what it did, then the error in one line
    assert code == 2 and len(stages) == 1
    assert stages[0].startswith("[1/1] wav2vec2-base on mono: loading the encoder on ")
    assert error.startswith("sarl bench: error: ")
    assert "'facebook/wav2vec2-base'" in error and "HF_HUB_OFFLINE=1" in error


def test_a_stored_stage_says_cached(tmp_path, caplog):
    from sarl_hf.results import bench

    caplog.set_level(logging.INFO, logger="sarl_hf")
    calls = []

    def compute():
        calls.append(1)
        return {"layer": {"accuracy": np.float64(0.5)}}

    for _ in range(2):
        assert bench._cached(tmp_path / "r.json", compute, "probe x") == {
            "layer": {"accuracy": 0.5}}
    assert calls == [1]
    said = [r.getMessage() for r in caplog.records if r.name == "sarl_hf.results.bench"]
    assert said[0] == "probe x ..." and said[1].startswith("probe x: done in ")
    assert said[2:] == ["probe x: cached (r.json)"]
