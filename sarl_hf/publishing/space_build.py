"""Each Space of ``spaces/`` assembled as the self-contained folder the Hub builds.

A built folder holds the page (``app.py``), its card (``README.md``, with the Space
header), what the page reads (bundled results, the evaluate module), ``packages.txt``,
``requirements.txt`` pinned from ``constraints.txt`` (:mod:`.requirements`), the
repository's ``LICENSE`` and the ``sarl_hf`` package itself, copied next to ``app.py``: a
Space installs its requirements before its files are there, so a wheel in the folder
could not be installed, and ``sarl_hf`` is not on PyPI. ``python app.py`` puts the folder
first on ``sys.path``, so the copy is the one imported.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .hub import check_repo_id
from .requirements import pinned_requirements
from .requirements import pinned_version
from .requirements import python_requires
from .space_card import folder_problems

#: The Python of every Space: the oldest the pinned requirements install on (numpy 2.4,
#: pandas 3.1, scikit-learn 1.9, scipy 1.17, matplotlib 3.11, transformers 5.24 need 3.11).
PYTHON_VERSION = "3.11"


@dataclass(frozen=True)
class SpaceRecipe:
    """What goes in one built Space beyond ``sarl_hf``, its pins and the licence.

    Attributes
    ----------
    files : tuple of str
        Files copied from ``spaces/<name>/``.
    extras : tuple of str
        ``setup.cfg`` extras the page needs beyond ``install_requires``.
    evaluate_module : str or None
        The evaluate module script the folder carries (its ``SPACE_ID`` is set).
    """

    files: tuple
    extras: tuple = ("space",)
    evaluate_module: str | None = None


SPACES = {
    "sarl_explorer": SpaceRecipe(("app.py", "README.md", "demo_results.json", "packages.txt")),
    "sarl_probe": SpaceRecipe(("app.py", "README.md", "sarl_probe.py"),
                              evaluate_module="sarl_probe.py"),
}
#: The evaluate module is the ``sarl_probe`` Space (evaluate loads modules from Spaces).
EVALUATE_SPACE = "sarl_probe"
#: What marks a folder as a build (a rebuild replaces only such a folder); uploads skip it.
BUILD_RECORD = ".sarl/build.json"


def repository_root() -> Path:
    """The clone the running ``sarl_hf`` comes from (it holds ``spaces/`` and
    ``setup.cfg``)."""
    root = Path(__file__).resolve().parents[2]
    if not ((root / "spaces").is_dir() and (root / "setup.cfg").is_file()):
        raise FileNotFoundError(f"the Spaces are built from a clone of the sarl_hf "
                                f"repository; {root} has no spaces/ and setup.cfg")
    return root


def _copy_package(root: Path, target: Path) -> None:
    shutil.copytree(root / "sarl_hf", target / "sarl_hf",
                    ignore=lambda folder, names: [n for n in names if n == "__pycache__"
                                                  or not (n.endswith(".py") or
                                                          (Path(folder) / n).is_dir())])


def set_space_id(script, space_id: str) -> None:
    """Write ``space_id`` into the ``SPACE_ID = "..."`` line of an evaluate module."""
    text = Path(script).read_text()
    changed, count = re.subn(r'^SPACE_ID = ".*"$', f'SPACE_ID = "{space_id}"', text,
                             flags=re.MULTILINE)
    if count != 1:
        raise ValueError(f"{script} has no single SPACE_ID = \"...\" line")
    Path(script).write_text(changed)


def _check_target(target: Path) -> None:
    """Refuse to replace a folder that is not an earlier build (a Space's sources, say)."""
    if target.exists() and not (target / BUILD_RECORD).is_file():
        raise ValueError(f"{target} exists and is not a Space build (no {BUILD_RECORD}); "
                         "remove it or build into another folder")


def build_space(name: str, out, space_id: str | None = None, root=None) -> Path:
    """Assemble Space ``name`` in ``out/name`` (replacing what was there) and check it.

    Parameters
    ----------
    name : str
        A key of :data:`SPACES`.
    out : str or Path
        Parent folder of the built Space.
    space_id : str, optional
        ``owner/name`` the Space will be published to: written into its evaluate
        module's homepage and code address.
    root : str or Path, optional
        The repository (default: :func:`repository_root`).

    Returns
    -------
    Path
        The built folder.
    """
    if name not in SPACES:
        raise ValueError(f"Space must be one of {sorted(SPACES)}, got {name!r}")
    if space_id is not None:
        check_repo_id(space_id)
    root = Path(root) if root else repository_root()
    out = Path(out)
    _check_out(out, root)
    target = out / name
    _check_target(target)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=out))
    try:
        _assemble(name, root, staging, space_id)
        _check_target(target)
        if target.exists():
            shutil.rmtree(target)
        staging.chmod(0o755)  # mkdtemp made it private
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _check_out(out: Path, root: Path) -> None:
    """Refuse a build folder that is a file or lies inside the sources it copies."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file, not a folder to build Spaces in")
    for sources in (root / "sarl_hf", root / "spaces"):
        if out.resolve().is_relative_to(sources.resolve()):
            raise ValueError(f"{out} lies inside the sources {sources}; build elsewhere")


def _assemble(name: str, root: Path, staging: Path, space_id: str | None) -> None:
    """Copy and write Space ``name`` into ``staging``, check it, record the build."""
    recipe = SPACES[name]
    for file in recipe.files:
        shutil.copy2(root / "spaces" / name / file, staging / file)
    shutil.copy2(root / "LICENSE", staging / "LICENSE")
    _copy_package(root, staging)
    pins = pinned_requirements(root / "setup.cfg", root / "constraints.txt", recipe.extras)
    (staging / "requirements.txt").write_text(
        f"# sarl_hf's requirements and the page's ({', '.join(recipe.extras)}), pinned "
        "from constraints.txt;\n# sarl_hf itself is the folder sarl_hf/ next to app.py\n"
        + "\n".join(pins) + "\n")
    if recipe.evaluate_module and space_id:
        set_space_id(staging / recipe.evaluate_module, space_id)
    problems = folder_problems(staging, pinned_version(root / "constraints.txt", "gradio"),
                               PYTHON_VERSION, python_requires(root / "setup.cfg"))
    if problems:
        raise ValueError(f"Space {name} would not build: {'; '.join(problems)}")
    (staging / BUILD_RECORD).parent.mkdir()
    (staging / BUILD_RECORD).write_text(json.dumps({"space": name, "space_id": space_id,
                                                    "source": str(root)}) + "\n")
