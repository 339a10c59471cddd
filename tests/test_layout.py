"""The layout: stages import only earlier stages, no import cycles, small public faces,
short modules, library errors free of command-line flags, a light top-level import."""

import ast
import importlib
import subprocess
import sys
from collections import defaultdict

import pytest
from conftest import REPO

PACKAGE = REPO / "sarl_hf"
#: The stages in pipeline order; the shared modules come first, the command line last.
STAGES = ["files", "citation", "splits", "registry", "errors", "checks", "locks", "processes",
          "sources",
          "acoustics", "scene", "rendering", "corpus", "encoders", "embeddings", "probing",
          "results", "publishing", "cli", "cli_publish",
          "cli_results"]
LEVEL = {"files": 0, "citation": 0, "splits": 0, "registry": 0, "errors": 0, "checks": 0,
         "locks": 0,
         "processes": 0, "sources": 1, "acoustics": 2,
         "scene": 3, "rendering": 4, "corpus": 5, "encoders": 6, "embeddings": 7,
         "probing": 8, "results": 9, "publishing": 10, "cli": 11, "cli_publish": 11,
         "cli_results": 11}
MAX_LINES = 400


def _modules() -> dict:
    """Module name → (path, syntax tree) of every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = (path, ast.parse(path.read_text()))
    return out


MODULES = _modules()


def _imports(name: str, tree: ast.AST, top_level_only: bool):
    """The sarl_hf modules ``name`` imports (all of them, or those run at import time)."""
    is_package = MODULES[name][0].name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    nodes = tree.body if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - max(node.level - 1, 0)]
            source = ".".join(base + [node.module or ""]).strip(".") if node.level else node.module
            for alias in node.names:  # "from pkg import module" imports the module
                sub = f"{source}.{alias.name}"
                yield sub if sub in MODULES else source
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def _stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "sarl_hf" else None


def test_every_stage_is_known():
    assert {_stage(m) for m in MODULES if _stage(m)} == set(STAGES)


def test_no_stage_imports_a_later_stage():
    upward = [(name, target) for name, (_, tree) in MODULES.items()
              for target in _imports(name, tree, top_level_only=False)
              if _stage(name) and _stage(target) and LEVEL[_stage(target)] > LEVEL[_stage(name)]]
    assert not upward


def test_no_import_cycles():
    graph = defaultdict(set)
    for name, (_, tree) in MODULES.items():
        graph[name] = {t for t in _imports(name, tree, top_level_only=True)
                       if t in MODULES and t != name}
    state = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                pytest.fail("import cycle: " + " -> ".join(path + [nxt]))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


@pytest.mark.parametrize("stage", [s for s in STAGES if (PACKAGE / s).is_dir()])
def test_each_stage_has_a_public_face(stage):
    module = importlib.import_module(f"sarl_hf.{stage}")
    doc = module.__doc__ or ""
    assert "takes" in doc.lower() and "gives" in doc.lower()  # what the stage takes and gives
    assert module.__all__ and all(hasattr(module, name) for name in module.__all__)


def test_modules_are_short():
    long = {name: len(path.read_text().splitlines()) for name, (path, _) in MODULES.items()
            if len(path.read_text().splitlines()) > MAX_LINES}
    assert not long


def test_no_module_imports_another_modules_private_names():
    private = [(name, alias.name) for name, (_, tree) in MODULES.items()
               for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
               and (node.level or (node.module or "").startswith("sarl_hf"))
               for alias in node.names
               if alias.name.startswith("_") and alias.name != "__version__"]
    assert not private


def _raised_texts(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            for part in ast.walk(node.exc):
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    yield part.value


def test_library_errors_name_no_command_line_flags():
    import re

    flagged = [(name, text) for name, (_, tree) in MODULES.items()
               if name not in ("sarl_hf.cli", "sarl_hf.cli_publish", "sarl_hf.cli_results")
               for text in _raised_texts(tree) if re.search(r"(^|\s|`)--[a-z]", text)]
    assert not flagged


def test_the_top_level_import_is_light_and_exports_resolve():
    code = ("import sys, sarl_hf; heavy = [m for m in ('torch', 'datasets', 'transformers') "
            "if m in sys.modules]; print(heavy)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
    import sarl_hf

    for name in sarl_hf.__all__:
        assert getattr(sarl_hf, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        sarl_hf.nothing  # noqa: B018


def test_tests_mirror_the_stages():
    folders = {p.name for p in (REPO / "tests").iterdir() if p.is_dir()
               and not p.name.startswith((".", "_"))}
    stage_packages = {s for s in STAGES if (PACKAGE / s).is_dir()}
    assert folders == stage_packages | {"spaces"}
