"""The pinned requirements of a built Space: everything ``sarl_hf`` and the page import, at
the versions the repository is tested with.

A Space installs its ``requirements.txt`` before its files are there, so ``sarl_hf``
itself travels as code inside the folder and its own requirements (``setup.cfg``'s
``install_requires`` and the extras the page needs) are listed one by one, each pinned to
its line of ``constraints.txt``.
"""

from __future__ import annotations

import configparser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name


def read_constraints(path) -> dict[str, str]:
    """Canonical package name → its pinned requirement line (``torch==2.9.1``) of a pip
    constraints file; comments and blank lines are skipped."""
    pins = {}
    for line in Path(path).read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            requirement = Requirement(text)
            if not any(spec.operator in ("==", "===") for spec in requirement.specifier):
                raise ValueError(f"{path}: {text!r} is not pinned to one version")
            pins[canonicalize_name(requirement.name)] = text
    return pins


def _setup_options(setup_cfg) -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    if not parser.read(setup_cfg):
        raise FileNotFoundError(f"no setup.cfg at {setup_cfg}")
    return parser


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def package_requirements(setup_cfg, extras=()) -> list[Requirement]:
    """``install_requires`` of ``setup_cfg`` and the requirements of ``extras``, in order."""
    options = _setup_options(setup_cfg)
    lines = _lines(options.get("options", "install_requires", fallback=""))
    known = options["options.extras_require"] if options.has_section(
        "options.extras_require") else {}
    for extra in extras:
        if extra not in known:
            raise ValueError(f"setup.cfg has no extra {extra!r} (it has {sorted(known)})")
        lines += _lines(known[extra])
    return [Requirement(line) for line in lines]


def python_requires(setup_cfg) -> SpecifierSet:
    """The ``python_requires`` of ``setup_cfg``."""
    return SpecifierSet(_setup_options(setup_cfg).get("options", "python_requires",
                                                      fallback=""))


def pinned_requirements(setup_cfg, constraints, extras=()) -> list[str]:
    """One pinned line per requirement of the package and ``extras``, from
    ``constraints``; a requirement without a pin, or whose pin its range excludes, is an
    error.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "setup.cfg").write_text("[options]\\ninstall_requires =\\n    torch>=2.4\\n"
    ...                                       "[options.extras_require]\\nspace =\\n    gradio\\n")
    >>> _ = (folder / "c.txt").write_text("torch==2.9.1\\ngradio==6.31.0\\nrich==15.0.0\\n")
    >>> pinned_requirements(folder / "setup.cfg", folder / "c.txt", ["space"])
    ['torch==2.9.1', 'gradio==6.31.0']
    """
    pins = read_constraints(constraints)
    lines = []
    for requirement in package_requirements(setup_cfg, extras):
        pin = pins.get(canonicalize_name(requirement.name))
        if pin is None:
            raise ValueError(f"{requirement.name} has no pin in {constraints}")
        version = next(iter(Requirement(pin).specifier)).version
        if not version.endswith("*") and version not in requirement.specifier:
            raise ValueError(f"{constraints} pins {pin}, outside setup.cfg's {requirement}")
        if pin not in lines:
            lines.append(pin)
    return lines


def pinned_version(constraints, name: str) -> str:
    """The version ``constraints`` pins ``name`` to (``6.31.0``)."""
    pin = read_constraints(constraints).get(canonicalize_name(name))
    if pin is None:
        raise ValueError(f"{name} has no pin in {constraints}")
    return next(iter(Requirement(pin).specifier)).version
