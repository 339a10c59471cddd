"""How to cite SARL: the one BibTeX entry every card (dataset, models, Spaces) and the
evaluate module give, so that they never disagree.

>>> CITATION.splitlines()[0]
'@software{sarl_hf,'
"""

CITATION = r"""@software{sarl_hf,
  title = {{SARL}: how much spatial information do frozen audio encoders keep?},
  author = {{sarl\_hf developers}},
  year = {2026},
  note = {Spatial Audio Representation Learning benchmark: synthetic spatial-scene corpus,
          reference encoders and linear-probe protocol; the sarl\_hf package}
}"""


def citation_section() -> str:
    """The ``## Citation`` section of a Markdown card: a heading and the BibTeX block."""
    return f"## Citation\n\n```bibtex\n{CITATION}\n```\n"
