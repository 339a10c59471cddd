"""The package as it is distributed: the wheel holds the package, its licence and the
``sarl`` command the README tells a user to run (and they run from the wheel alone); the
sdist holds the repository's tracked files, tests/conftest.py included, and its tests run
from it."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest
from conftest import REPO

from sarl_hf import cli

IGNORED = (".git", ".venv", "__pycache__", "out", "build", "dist", ".pytest_cache")
NETWORK_TROUBLE = ("NewConnectionError", "Failed to establish", "Temporary failure in name",
                   "Network is unreachable", "ConnectTimeout", "Read timed out")


def _source_files() -> list[str]:
    """The repository's files as a build sees them: git's (tracked and new, not ignored),
    or, in an unpacked sdist, every file but caches and build outputs."""
    if (REPO / ".git").exists():
        listed = subprocess.run(["git", "ls-files", "--cached", "--others",
                                 "--exclude-standard"], cwd=REPO, capture_output=True,
                                text=True, check=True).stdout.splitlines()
        return sorted(p for p in listed if (REPO / p).is_file())
    return sorted(p.relative_to(REPO).as_posix() for p in REPO.rglob("*") if p.is_file()
                  and not set(p.relative_to(REPO).parts) & set(IGNORED)
                  and not any(part.endswith(".egg-info") for part in p.parts))


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A copy of the repository's files, where a build may write its egg-info."""
    folder = tmp_path_factory.mktemp("source")
    for path in _source_files():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / path, folder / path)
    return folder


def _readme_commands() -> set[str]:
    """The ``sarl`` subcommands the README's shell examples run."""
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    return {m.group(1) for block in blocks for m in re.finditer(
        r"(?:^|\s|/)sarl ([a-z][a-z-]*)", block, re.M)}


def test_the_readme_runs_only_commands_the_package_has():
    commands = _readme_commands()
    known = set(cli.build_parser()._subparsers._group_actions[0].choices)
    assert {"bench", "generate", "publish"} <= commands
    assert commands <= known


@pytest.mark.slow
def test_the_wheel_holds_the_package_and_its_command(source, tmp_path):
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                           "-w", str(tmp_path), str(source)], capture_output=True, text=True,
                          timeout=600)
    if done.returncode and any(t in done.stderr for t in NETWORK_TROUBLE):
        pytest.skip(f"the package index is unreachable for the build backend: "
                    f"{done.stderr[-300:]}")
    assert done.returncode == 0, done.stderr[-3000:]
    wheel = next(tmp_path.glob("sarl_hf-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
    package = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "sarl_hf").rglob("*.py"))
    assert sorted(n for n in names if not n.startswith(info)) == package
    assert f"{info}/licenses/LICENSE" in names
    archive = zipfile.ZipFile(wheel)
    assert "sarl = sarl_hf.cli:main" in archive.read(f"{info}/entry_points.txt").decode()
    setup = configparser.ConfigParser()
    setup.read(REPO / "setup.cfg")
    metadata = archive.read(f"{info}/METADATA").decode()
    assert f"Requires-Python: {setup['options']['python_requires']}" in metadata
    assert "License: Apache-2.0" in metadata
    unpacked = tmp_path / "unpacked"
    archive.extractall(unpacked)
    run = ("import sys; sys.path.insert(0, sys.argv[1]); import sarl_hf.cli as c; "
           "print(c.__file__); c.main(['publish', 'space', 'sarl_probe', '--dry-run'])")
    done = subprocess.run([sys.executable, "-I", "-c", run, str(unpacked)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.stdout.startswith(str(unpacked / "sarl_hf" / "cli.py")), done.stderr[-2000:]
    assert "the Spaces are built from a clone of the sarl_hf repository" in done.stderr


@pytest.mark.slow
def test_the_sdist_holds_the_repository_and_runs_its_tests(source, tmp_path):
    build = ("import sys; from setuptools import build_meta; "
             "print(build_meta.build_sdist(sys.argv[1]))")
    done = subprocess.run([sys.executable, "-c", build, str(tmp_path)], cwd=source,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    sdist = tmp_path / done.stdout.strip().splitlines()[-1]
    with tarfile.open(sdist) as archive:
        members = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
        archive.extractall(tmp_path / "unpacked", filter="data")
    missing = set(_source_files()) - members - {".gitignore"}
    assert not missing and "tests/conftest.py" in members
    root = next((tmp_path / "unpacked").iterdir())
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/test_layout.py"], cwd=root, capture_output=True, text=True,
                          timeout=600, env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1",
                                            "PYTHONPATH": str(root), "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stdout[-3000:]
    assert re.search(r"\d+ passed", done.stdout)
