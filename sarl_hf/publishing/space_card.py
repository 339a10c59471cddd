"""What a built Space folder must hold to build on the Hub: a valid Space header, the
Debian packages its page uses, bundled results the Space itself could have made.
"""

from __future__ import annotations

import json
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

#: Longest ``short_description`` the Hub accepts.
MAX_SHORT_DESCRIPTION = 60
#: Debian packages behind a source bank or a channel format of results, by what needs them.
DEBIAN_NEEDS = {("bank", "gm"): ("fluidsynth", "fluid-soundfont-gm", "espeak-ng"),
                ("format", "binaural"): ("libmysofa1",)}
#: Packaged encoders that need a Python package beyond ``sarl_hf``'s requirements.
ENCODER_PACKAGES = {"ge2e": "resemblyzer"}


def read_header(readme) -> dict:
    """The YAML header (between the first two ``---`` lines) of a card, as a dict."""
    import yaml

    text = Path(readme).read_text(encoding="utf-8")
    parts = text.split("---\n", 2)
    if not text.startswith("---\n") or len(parts) < 3:
        raise ValueError(f"{readme} does not start with a --- YAML header")
    header = yaml.safe_load(parts[1])
    if not isinstance(header, dict):
        raise ValueError(f"{readme}: its header is not a mapping")
    return header


def header_problems(header: dict, folder, gradio_version: str, python_version: str) -> list:
    """What is wrong with a Gradio Space's header for the folder it heads (empty: none)."""
    problems = []
    expected = {"sdk": "gradio", "sdk_version": gradio_version,
                "python_version": python_version}
    for key, value in expected.items():
        if str(header.get(key)) != value:
            problems.append(f"{key} is {header.get(key)!r}, not {value!r}")
    app_file = header.get("app_file")
    if not app_file or not (Path(folder) / str(app_file)).is_file():
        problems.append(f"app_file {app_file!r} is not a file of the folder")
    short = header.get("short_description")
    if not isinstance(short, str) or not 0 < len(short) <= MAX_SHORT_DESCRIPTION:
        problems.append(f"short_description must be text of 1 to {MAX_SHORT_DESCRIPTION} "
                        f"characters, got {short!r}")
    if "description" in header:
        problems.append("description is not a Space setting (short_description is)")
    if not header.get("license"):
        problems.append("no license")
    if not header.get("tags") or not isinstance(header["tags"], list):
        problems.append("no tags")
    return problems


def results_problems(results: dict, packages: set, requirements: list[str]) -> list:
    """What a Space with these Debian ``packages`` and pinned ``requirements`` could not
    have made of the bundled ``results`` (a ``sarl bench`` results.json)."""
    plan = results.get("plan", {})
    needs = [("bank", plan.get("bank", {}).get("name"))]
    needs += [("format", name) for name in plan.get("formats", ())]
    problems = [f"its {kind} {value!r} needs the Debian package {package}, not in "
                "packages.txt" for kind, value in needs
                for package in DEBIAN_NEEDS.get((kind, value), ()) if package not in packages]
    installed = {canonicalize_name(Requirement(line).name) for line in requirements}
    for encoder in results.get("encoders", {}):
        package = ENCODER_PACKAGES.get(encoder)
        if package and canonicalize_name(package) not in installed:
            problems.append(f"encoder {encoder!r} needs {package}, not in requirements.txt")
    return problems


def folder_problems(folder, gradio_version: str, python_version: str, python_range) -> list:
    """Every problem of a built Space folder: its header, its ``packages.txt`` against
    its bundled ``demo_results.json``, its Python version against ``python_range`` (a
    ``SpecifierSet``)."""
    folder = Path(folder)
    problems = [f"README.md: {p}" for p in header_problems(
        read_header(folder / "README.md"), folder, gradio_version, python_version)]
    if Version(python_version) not in python_range:
        problems.append(f"python_version {python_version} is outside python_requires "
                        f"{python_range}")
    requirements = [line for line in (folder / "requirements.txt").read_text().splitlines()
                    if line.strip() and not line.startswith("#")]
    packages_file = folder / "packages.txt"
    packages = set(packages_file.read_text().split()) if packages_file.is_file() else set()
    results_file = folder / "demo_results.json"
    if results_file.is_file():
        problems += [f"demo_results.json: {p}" for p in results_problems(
            json.loads(results_file.read_text()), packages, requirements)]
    return problems
