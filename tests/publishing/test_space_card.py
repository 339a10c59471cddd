"""The checks of a built Space folder: its Space header, and bundled results the Space
could not have made (a bank or format whose Debian packages it lacks, an encoder it does not
install)."""

from __future__ import annotations

import json

import pytest
from conftest import REPO

from sarl_hf.publishing.space_card import header_problems
from sarl_hf.publishing.space_card import read_header
from sarl_hf.publishing.space_card import results_problems

GOOD = {"sdk": "gradio", "sdk_version": "6.31.0", "python_version": "3.11",
        "app_file": "app.py", "short_description": "A page", "license": "apache-2.0",
        "tags": ["audio"]}


def _problems(tmp_path, **changes):
    (tmp_path / "app.py").write_text("")
    header = {k: v for k, v in {**GOOD, **changes}.items() if v is not None}
    return header_problems(header, tmp_path, "6.31.0", "3.11")


def test_the_spaces_headers_as_they_stand_are_valid():
    for name in ("sarl_explorer", "sarl_probe"):
        folder = REPO / "spaces" / name
        assert header_problems(read_header(folder / "README.md"), folder, "6.31.0",
                               "3.11") == []


@pytest.mark.parametrize("changes, problem", [
    ({"sdk_version": "5.0.0"}, "sdk_version is '5.0.0', not '6.31.0'"),
    ({"python_version": None}, "python_version is None, not '3.11'"),
    ({"python_version": 3.1}, "python_version is 3.1, not '3.11'"),  # YAML's 3.10
    ({"sdk": "docker"}, "sdk is 'docker'"),
    ({"app_file": "main.py"}, "app_file 'main.py' is not a file"),
    ({"short_description": "x" * 61}, "short_description must be text of 1 to 60"),
    ({"short_description": None, "description": "long"}, "description is not a Space"),
    ({"license": None}, "no license"),
    ({"tags": []}, "no tags"),
])
def test_each_bad_header_field_is_named(tmp_path, changes, problem):
    problems = _problems(tmp_path, **changes)
    assert any(problem in p for p in problems), problems


def test_a_card_without_a_header_is_refused(tmp_path):
    (tmp_path / "README.md").write_text("# no header\n")
    with pytest.raises(ValueError, match="does not start with a --- YAML header"):
        read_header(tmp_path / "README.md")
    (tmp_path / "README.md").write_text("---\n- a list\n---\n")
    with pytest.raises(ValueError, match="not a mapping"):
        read_header(tmp_path / "README.md")


def test_bundled_results_need_what_made_them():
    results = json.loads((REPO / "spaces" / "sarl_explorer" / "demo_results.json").read_text())
    packages = {"ffmpeg", "libmysofa1", "fluidsynth", "fluid-soundfont-gm", "espeak-ng"}
    assert results_problems(results, packages, ["torch==2.9.1"]) == []
    missing = results_problems(results, {"ffmpeg", "libmysofa1"}, ["torch==2.9.1"])
    assert [p.split("package ")[1].split(",")[0] for p in missing] == [
        "fluidsynth", "fluid-soundfont-gm", "espeak-ng"]
    results["encoders"]["ge2e"] = {}
    assert results_problems(results, packages, ["torch==2.9.1"]) == [
        "encoder 'ge2e' needs resemblyzer, not in requirements.txt"]
    assert results_problems(results, packages, ["Resemblyzer==0.1.4"]) == []
