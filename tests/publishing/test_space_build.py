"""Each Space built as a self-contained folder: what it holds, and a broken source refused
before anything replaces the last good build."""

from __future__ import annotations

import shutil

import pytest
from conftest import REPO

from sarl_hf.publishing import SPACES
from sarl_hf.publishing import build_space
from sarl_hf.publishing.requirements import pinned_requirements
from sarl_hf.publishing.space_build import set_space_id
from sarl_hf.publishing.space_card import read_header

PACKAGE_FILES = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "sarl_hf").rglob("*.py"))


def _root_copy(tmp_path):
    """What the build reads of the repository, in a folder a test may break."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "spaces", root / "spaces")
    shutil.copytree(REPO / "sarl_hf", root / "sarl_hf",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("LICENSE", "setup.cfg", "constraints.txt"):
        shutil.copy2(REPO / name, root / name)
    return root


@pytest.mark.parametrize("name", sorted(SPACES))
def test_a_built_space_holds_everything_it_runs_with(name, tmp_path):
    folder = build_space(name, tmp_path / "out")
    assert folder == tmp_path / "out" / name
    assert [p.name for p in (tmp_path / "out").iterdir()] == [name]  # no staging left
    for file in SPACES[name].files + ("LICENSE", "requirements.txt"):
        assert (folder / file).is_file(), file
    copied = sorted(p.relative_to(folder).as_posix() for p in (folder / "sarl_hf").rglob("*"))
    assert [p for p in copied if p.endswith(".py")] == PACKAGE_FILES
    assert not [p for p in copied if "__pycache__" in p or p.endswith(".pyc")]
    lines = (folder / "requirements.txt").read_text().splitlines()
    assert [line for line in lines if not line.startswith("#")] == pinned_requirements(
        REPO / "setup.cfg", REPO / "constraints.txt", ["space"])
    assert not any(line.lower().startswith("sarl_hf") for line in lines)
    header = read_header(folder / "README.md")
    assert (header["sdk"], header["sdk_version"], header["python_version"]) == (
        "gradio", "6.31.0", "3.11")
    assert folder.stat().st_mode & 0o755 == 0o755  # readable by the Hub's builder


def test_the_explorer_installs_the_gm_banks_debian_packages(tmp_path):
    folder = build_space("sarl_explorer", tmp_path)
    packages = (folder / "packages.txt").read_text().split()
    assert {"ffmpeg", "libmysofa1", "fluidsynth", "fluid-soundfont-gm", "espeak-ng"} <= set(
        packages)


def test_a_rebuild_replaces_the_folder_and_sets_the_space_id(tmp_path):
    first = build_space("sarl_probe", tmp_path)
    (first / "leftover.txt").write_text("from an old build")
    again = build_space("sarl_probe", tmp_path, space_id="me/probe")
    assert not (again / "leftover.txt").exists()
    assert 'SPACE_ID = "me/probe"\n' in (again / "sarl_probe.py").read_text()


def test_a_broken_source_is_refused_and_the_last_build_kept(tmp_path):
    root = _root_copy(tmp_path)
    good = build_space("sarl_explorer", tmp_path / "out", root=root)
    card = root / "spaces" / "sarl_explorer" / "README.md"
    card.write_text(card.read_text().replace('python_version: "3.11"\n', "").replace(
        "short_description:", "description:"))
    (root / "spaces" / "sarl_explorer" / "packages.txt").write_text("ffmpeg\n")
    with pytest.raises(ValueError) as caught:
        build_space("sarl_explorer", tmp_path / "out", root=root)
    message = str(caught.value)
    assert message.startswith("Space sarl_explorer would not build: README.md: ")
    for problem in ("python_version is None", "description is not a Space setting",
                    "needs the Debian package fluidsynth", "libmysofa1"):
        assert problem in message
    assert (good / "README.md").read_text() != card.read_text()  # the good build stays
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["sarl_explorer"]


def test_a_folder_that_is_not_a_build_is_never_replaced(tmp_path):
    root = _root_copy(tmp_path)
    sources = sorted(p.name for p in (root / "spaces" / "sarl_probe").iterdir())
    (tmp_path / "sarl_probe").mkdir()
    (tmp_path / "sarl_probe" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="exists and is not a Space build"):
        build_space("sarl_probe", tmp_path, root=root)
    assert (tmp_path / "sarl_probe" / "notes.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="lies inside the sources"):
        build_space("sarl_probe", root / "spaces", root=root)  # would replace its sources
    with pytest.raises(ValueError, match="lies inside the sources"):
        build_space("sarl_probe", root / "sarl_hf" / "out", root=root)  # copied into itself
    assert sorted(p.name for p in (root / "spaces" / "sarl_probe").iterdir()) == sources
    assert not [p for p in (root / "spaces").iterdir() if p.name.startswith(".")]
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        build_space("sarl_probe", tmp_path / "file", root=root)
    with pytest.raises(ValueError, match="owner/name"):
        build_space("sarl_probe", tmp_path / "out", space_id='x"; import os #', root=root)
    assert not (tmp_path / "out").exists()


def test_unknown_spaces_and_missing_sources_are_refused(tmp_path):
    with pytest.raises(ValueError, match="Space must be one of"):
        build_space("sarl_nothing", tmp_path)
    root = _root_copy(tmp_path)
    (root / "spaces" / "sarl_probe" / "app.py").unlink()
    with pytest.raises(FileNotFoundError, match="app.py"):
        build_space("sarl_probe", tmp_path / "out", root=root)
    script = tmp_path / "module.py"
    script.write_text("HOMEPAGE = 'x'\n")
    with pytest.raises(ValueError, match="no single SPACE_ID"):
        set_space_id(script, "me/probe")
