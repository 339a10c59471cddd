"""The pinned requirements of a built Space: every requirement of the package pinned from
constraints.txt, and what is refused (no pin, a pin outside the range, an unpinned
constraint)."""

from __future__ import annotations

import ast
import importlib.metadata
import sys

import pytest
from conftest import REPO
from packaging.version import Version

from sarl_hf.publishing import PYTHON_VERSION
from sarl_hf.publishing.requirements import package_requirements
from sarl_hf.publishing.requirements import pinned_requirements
from sarl_hf.publishing.requirements import pinned_version
from sarl_hf.publishing.requirements import python_requires
from sarl_hf.publishing.requirements import read_constraints

SETUP = REPO / "setup.cfg"
CONSTRAINTS = REPO / "constraints.txt"


def _files(tmp_path, requires: str, constraints: str):
    (tmp_path / "setup.cfg").write_text(f"[options]\ninstall_requires =\n    {requires}\n")
    (tmp_path / "c.txt").write_text(constraints)
    return tmp_path / "setup.cfg", tmp_path / "c.txt"


def test_the_repositorys_requirements_are_all_pinned():
    lines = pinned_requirements(SETUP, CONSTRAINTS, ["space"])
    names = [r.name for r in package_requirements(SETUP, ["space"])]
    assert len(lines) == len(names) and all("==" in line for line in lines)
    assert "torchcodec==0.9.*" in lines and "torch==2.9.1" in lines  # torchcodec beside torch
    assert f"gradio=={pinned_version(CONSTRAINTS, 'gradio')}" in lines
    assert "resemblyzer" not in " ".join(lines).lower()  # the Space does not offer ge2e


#: Imported only by what the Spaces do not offer: GE2E (Resemblyzer, the ``encoders`` extra).
OPTIONAL_IMPORTS = {"resemblyzer"}


def _third_party_imports(paths) -> set[str]:
    names = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"sarl_hf"} - OPTIONAL_IMPORTS


def test_every_import_of_the_package_and_the_pages_is_a_requirement():
    """What a built Space installs is what its code imports: nothing left to chance."""
    paths = [*(REPO / "sarl_hf").rglob("*.py"), *(REPO / "spaces").glob("*/*.py")]
    distributions = importlib.metadata.packages_distributions()
    required = {r.name.lower().replace("_", "-")
                for r in package_requirements(SETUP, ["space"])}
    missing = {name: distributions.get(name) for name in _third_party_imports(paths)
               if not {d.lower().replace("_", "-") for d in distributions.get(name, [name])}
               & required}
    assert not missing


def test_python_requires_matches_the_space_python():
    supported = python_requires(SETUP)
    assert Version(PYTHON_VERSION) in supported and Version("3.11") in supported
    assert Version("3.10") not in supported  # transformers 5.24 and numpy 2.4 need 3.11


def test_a_requirement_without_a_pin_is_refused(tmp_path):
    setup, constraints = _files(tmp_path, "torch>=2.4\n    mido>=1.3", "torch==2.9.1\n")
    with pytest.raises(ValueError, match="mido has no pin in"):
        pinned_requirements(setup, constraints)


def test_a_pin_outside_the_range_is_refused(tmp_path):
    setup, constraints = _files(tmp_path, "pyloudnorm>=0.1.1,<0.3", "pyloudnorm==0.3.0\n")
    with pytest.raises(ValueError, match="outside setup.cfg's pyloudnorm"):
        pinned_requirements(setup, constraints)


def test_an_unpinned_constraint_and_an_unknown_extra_are_refused(tmp_path):
    setup, constraints = _files(tmp_path, "torch>=2.4", "# pins\n\ntorch>=2.4\n")
    with pytest.raises(ValueError, match="is not pinned to one version"):
        read_constraints(constraints)
    constraints.write_text("torch==2.9.1  # tested\n")
    assert read_constraints(constraints) == {"torch": "torch==2.9.1"}
    with pytest.raises(ValueError, match="no extra 'space'"):
        pinned_requirements(setup, constraints, ["space"])
    with pytest.raises(FileNotFoundError, match="no setup.cfg"):
        pinned_requirements(tmp_path / "absent.cfg", constraints)
