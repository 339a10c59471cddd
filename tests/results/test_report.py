"""Reading, combining and reporting ``results.json`` files (``sarl report``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import run_cli

from sarl_hf.results import combine, report
from sarl_hf.results.explore import MAX_RESULT_ROWS

DEMO_RESULTS = Path(__file__).resolve().parents[2] / "spaces" / "sarl_explorer" / \
    "demo_results.json"


def test_read_results_checks_what_it_reads(tmp_path):
    results = combine.read_results(DEMO_RESULTS)
    assert set(results["encoders"]) >= {"sarl-logmel", "sarl-spatial"}
    cases = {"list.json": "[1, 2]", "broken.json": "{\"encoders\": ", "empty.json": "{}",
             "no_formats.json": json.dumps({"encoders": {"x": {}}}),
             "partial.json": json.dumps({"encoders": {"x": {"binaural": {"layers": {}}}}})}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ValueError, match="not valid JSON|not a sarl bench results file"):
            combine.read_results(tmp_path / name)
    (tmp_path / "results.txt").write_text("{}")
    with pytest.raises(ValueError, match="expected a results.json"):
        combine.read_results(tmp_path / "results.txt")
    with pytest.raises(ValueError, match=r"MB; files of up to .* MB are read here"):
        combine.read_results(DEMO_RESULTS, max_bytes=1000)
    many = {"encoders": {f"e{k}": {"mono": {}} for k in range(MAX_RESULT_ROWS + 1)}}
    (tmp_path / "many.json").write_text(json.dumps(many))
    with pytest.raises(ValueError, match=f"up to {MAX_RESULT_ROWS} are shown"):
        combine.read_results(tmp_path / "many.json", max_rows=MAX_RESULT_ROWS)


def test_merge_results_never_overwrites_an_encoder():
    results = combine.read_results(DEMO_RESULTS)
    names = list(results["encoders"])
    merged = combine.merge_results(results, results)
    merged = combine.merge_results(merged, results)
    assert list(merged["encoders"]) == (names + [f"{n} (uploaded)" for n in names]
                                        + [f"{n} (uploaded) 2" for n in names])
    assert merged["encoders"][f"{names[0]} (uploaded) 2"] == results["encoders"][names[0]]


def _run_in(folder: Path, results: dict) -> Path:
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(results))
    return folder / "results.json"


def test_sarl_report_combines_runs_of_one_corpus(tmp_path):
    results = combine.read_results(DEMO_RESULTS)
    names = list(results["encoders"])
    node_a = _run_in(tmp_path / "node_a", {**results, "encoders": {
        n: results["encoders"][n] for n in names[1:]}})
    node_b = _run_in(tmp_path / "node_b", results)
    out = tmp_path / "combined"
    code, stdout, stderr = run_cli(["report", str(node_a), str(node_b), "--out", str(out)])
    assert code == 0, stderr
    combined = json.loads((out / "results.json").read_text())
    assert list(combined["encoders"]) == names[1:] + [names[0]] + [
        f"{n} (node_b)" for n in names[1:]]
    assert combined["encoders"][names[0]] == results["encoders"][names[0]]
    assert combined["plan"] == results["plan"]
    assert [i["encoders"] for i in combined["inputs"]] == [
        names[1:], [names[0]] + [f"{n} (node_b)" for n in names[1:]]]
    table = (out / "results.md").read_text()
    assert table in stdout
    rows = [line.split(" | ")[0][2:] for line in table.splitlines()
            if line.startswith("| ") and "binaural" in line.split(" | ")[1:2]]
    assert rows[:len(combined["encoders"])] == list(combined["encoders"])
    for name in ("accuracy.png", "layers.png", "sensitivity.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    assert report.markdown(combine.read_results(out / "results.json")) == table


def test_sarl_report_refuses_results_of_another_corpus(tmp_path):
    results = combine.read_results(DEMO_RESULTS)
    first = _run_in(tmp_path / "a", results)
    other = _run_in(tmp_path / "b", {**results, "plan": {**results["plan"], "seed": 1}})
    code, _, stderr = run_cli(["report", str(first), str(other), "--out", str(tmp_path / "o")])
    assert code == 2 and "another corpus" in stderr and "--other-corpora" in stderr
    assert not (tmp_path / "o" / "results.json").exists()
    code, _, stderr = run_cli(["report", str(first), str(other), "--out", str(tmp_path / "o"),
                               "--other-corpora"])
    assert code == 0, stderr
    combined = json.loads((tmp_path / "o" / "results.json").read_text())
    assert "plan" not in combined
    assert [i["plan"]["seed"] for i in combined["inputs"]] == [results["plan"]["seed"], 1]
    missing = tmp_path / "nowhere" / "results.json"
    code, _, stderr = run_cli(["report", str(missing), "--out", str(tmp_path / "p")])
    assert code == 2 and "results.json" in stderr
    shutil.copy(DEMO_RESULTS, tmp_path / "results.txt")
    code, _, stderr = run_cli(["report", str(tmp_path / "results.txt"), "--out",
                               str(tmp_path / "p")])
    assert code == 2 and "expected a results.json" in stderr


def test_a_report_without_sensitivity_leaves_no_heatmap(tmp_path):
    results = combine.read_results(DEMO_RESULTS)
    out = tmp_path / "report"
    assert out / "sensitivity.png" in report.write_report(out, results)
    plain = {**results, "encoders": {
        name: {config: {k: v for k, v in entry.items() if k != "sensitivity"}
               for config, entry in configs.items()}
        for name, configs in results["encoders"].items()}}
    written = report.write_report(out, plain)
    assert [p.name for p in written] == ["results.json", "results.md", "accuracy.png",
                                         "layers.png"]
    assert not (out / "sensitivity.png").exists()  # the earlier one is gone
    text = (out / "results.md").read_text()
    assert "sensitivity.png" not in text and "Sensitivity" not in text
    assert json.loads((out / "results.json").read_text()) == plain
