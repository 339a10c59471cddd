"""``sarl bench`` end to end on a tiny configuration."""

from __future__ import annotations

import json

import pytest
from conftest import hold_lock, run_cli

from sarl_hf.encoders import load_encoder
from sarl_hf.probing.tasks import TASK_NAMES

ARGS = ["--scenes", "30", "--duration", "0.5", "--encoders", "sarl-spatial,sarl-logmel",
        "--formats", "stereo", "--sensitivity-anchors", "2", "--multisource-scenes", "20",
        "--n-boot", "50", "--mlp", "--no-progress"]


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
    report = (out / "results.md").read_text()
    assert "| sarl-spatial | stereo |" in report and "| chance |" in report
    assert "Multisource scenes" in report and "MLP probe" in report
    for task in TASK_NAMES:
        mlp = spatial["mlp"][task]
        assert 0 <= mlp["accuracy"] <= 1 and mlp["n_test"] == 6
        assert mlp["layer"] == spatial["best_layer"][task]
    for name in ("accuracy.png", "layers.png", "sensitivity.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    assert "results.md" in stdout
    parts = sorted(p.stat().st_mtime_ns for p in (out / "embeddings").rglob("*.parquet"))
    code, _, stderr = run_cli(["bench", "--out", str(out)] + ARGS)
    assert code == 0, stderr
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
