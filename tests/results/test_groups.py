"""sarl_hf.results.groups and the report's choice of a summary layer."""

import json

import numpy as np
from conftest import REPO

from sarl_hf.results.groups import comparison_lines, grouped
from sarl_hf.results.selection import summary_layer

DEMO = REPO / "spaces" / "sarl_explorer" / "demo_results.json"


def entry(accuracy: float, **metadata) -> dict:
    metrics = {"accuracy": accuracy}
    tasks = ("azimuth", "elevation", "distance", "class", "rt60", "volume", "shape")
    return {"metadata": metadata, "layers": {"x": {t: metrics for t in tasks}},
            "best_layer": {t: "x" for t in tasks}}


def test_entries_are_grouped_by_input_configuration_and_paradigm():
    results = {"encoders": {
        "a": {"binaural": entry(0.5, input_configuration="binaural", paradigm="handcrafted")},
        "b": {"binaural": entry(0.3, input_configuration="mono", paradigm="supervised")},
        "c": {"binaural": entry(0.1, input_configuration="binaural", paradigm="supervised")},
        "old": {"binaural": {**entry(0.2), "metadata": None}}}}
    by_input = grouped(results, "input_configuration")
    assert {k: [e for e, _, _ in v] for k, v in by_input.items()} == \
        {"binaural": ["a", "c"], "mono": ["b"], "unknown": ["old"]}
    lines = comparison_lines(results)
    assert "| binaural | a (binaural), c (binaural) | 30.0 | 30.0 |" in "\n".join(lines)
    assert "| supervised | b (binaural), c (binaural) | 20.0 |" in "\n".join(lines)


def test_results_without_metadata_still_make_a_report():
    demo = json.loads(DEMO.read_text())
    for configs in demo["encoders"].values():
        for item in configs.values():
            item.pop("metadata", None)
    assert any("| unknown |" in line for line in comparison_lines(demo))


def test_the_summary_layer_skips_layers_a_distance_cannot_use():
    assert summary_layer({"a": 1, "all": 2}) == "all"
    arrays = {"encoder": np.ones((3, 4)), "lstm": np.ones((3, 4)), "speech": np.ones((3, 1))}
    assert summary_layer(arrays) == "lstm"
    ratios = {"lstm": {"rt60": {"ratio": 0.4}}, "speech": {"rt60": {"ratio": float("nan")}}}
    assert summary_layer(ratios) == "lstm"
    assert summary_layer({"speech": {"rt60": {"ratio": float("nan")}}}) == "speech"
