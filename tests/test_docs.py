"""The code examples of the README and the model cards run as they stand.

Each document's ``python`` blocks run in order in one namespace, in a fresh folder; the
README's folder holds ``sarl``, a small corpus of the configs its ``sarl generate``
command writes (mono, binaural, foa), standing in for the 1,000-scene one.
"""

import re
import textwrap

import pytest
from conftest import REPO

from sarl_hf.corpus import CorpusPlan, generate
from sarl_hf.sources import ProceduralBank

BLOCK = re.compile(r"^([ \t]*)```python\n(.*?)^\1```", re.M | re.S)
DOCUMENTS = ["README.md", *sorted(str(p.relative_to(REPO))
                                  for p in (REPO / "model_cards").glob("*/README.md"))]


def python_blocks(path):
    """(line number, code) of every ``python`` block of a Markdown file."""
    text = path.read_text()
    return [(text[:m.start()].count("\n") + 1, textwrap.dedent(m.group(2)))
            for m in BLOCK.finditer(text)]


@pytest.fixture(scope="module")
def readme_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("readme")
    bank = ProceduralBank()
    plan = CorpusPlan(scenes=40, formats=("mono", "binaural", "foa"), duration_s=0.5,
                      multisource_scenes=0, sensitivity_anchors=0, bank=bank.to_dict())
    assert generate(folder / "sarl", plan, bank, progress=False).complete
    return folder


def test_every_document_has_examples():
    assert all(python_blocks(REPO / doc) for doc in DOCUMENTS)
    assert len(DOCUMENTS) >= 7


@pytest.mark.parametrize("document", DOCUMENTS)
def test_examples_run(document, readme_folder, tmp_path, monkeypatch):
    monkeypatch.chdir(readme_folder if document == "README.md" else tmp_path)
    namespace = {"__name__": "__docs__"}
    for line, code in python_blocks(REPO / document):
        exec(compile(code, f"{document}:{line}", "exec"), namespace)  # noqa: S102
