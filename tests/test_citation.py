"""One citation everywhere: the dataset card, the evaluate module (its info and its card),
every model card, and no Markdown file of the repository with another BibTeX entry."""

from __future__ import annotations

import re

import evaluate
from conftest import REPO

from sarl_hf.citation import CITATION, citation_section

BIBTEX_BLOCK = re.compile(r"```bibtex\n(.*?)\n```", re.DOTALL)


def bibtex_blocks(text: str) -> list[str]:
    return BIBTEX_BLOCK.findall(text)


def test_every_bibtex_block_of_the_repository_is_the_citation():
    found = {}
    for path in sorted(REPO.rglob("*.md")):
        if {".venv", ".git", "node_modules"} & set(path.relative_to(REPO).parts):
            continue
        blocks = bibtex_blocks(path.read_text(encoding="utf-8"))
        if blocks:
            found[path.relative_to(REPO).as_posix()] = blocks
    assert all(blocks == [CITATION] for blocks in found.values()), found
    cards = sorted(p.parent.name for p in (REPO / "model_cards").glob("*/README.md"))
    assert cards and all(f"model_cards/{c}/README.md" in found for c in cards)
    assert "spaces/sarl_probe/README.md" in found


def test_the_dataset_card_and_the_evaluate_module_give_the_citation(tiny_corpus):
    card = (tiny_corpus / "README.md").read_text()
    assert citation_section() in card and bibtex_blocks(card) == [CITATION]
    module = evaluate.load(str(REPO / "spaces" / "sarl_probe"), "azimuth",
                           keep_in_memory=True)
    assert module.citation == CITATION


def test_the_citation_is_valid_bibtex_shape():
    assert CITATION.startswith("@software{sarl_hf,") and CITATION.endswith("}")
    assert CITATION.count("{") == CITATION.count("}")
    for field in ("title", "author", "year"):
        assert re.search(rf"^  {field} = \{{", CITATION, re.MULTILINE), field
