"""What each kind of ``sarl publish`` sends, and where: the corpus as a dataset repo, a
Space (the evaluate module is the ``sarl_probe`` Space), a model folder or a model card.

Every function returns the files (path in the repository, bytes) it sent or, with
``dry_run``, would send; Hub failures arrive as one-line
:class:`~sarl_hf.errors.HubError`.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ..corpus.upload import publish as upload_corpus
from .hub import check_repo_id
from .hub import hub_errors
from .hub import upload_folder
from .space_build import EVALUATE_SPACE
from .space_build import build_space


def publish_dataset(folder, repo_id: str, private: bool = False, token: str | None = None,
                    dry_run: bool = False) -> list[tuple[str, int]]:
    """Verify a ``sarl generate`` folder against its manifest and upload its card,
    manifest and data files to the dataset repo ``repo_id`` (one commit per config)."""
    check_repo_id(repo_id)
    if not Path(folder).is_dir():
        raise FileNotFoundError(f"no corpus folder {folder}")
    with hub_errors(f"upload to datasets/{repo_id}"):
        return upload_corpus(folder, repo_id, private=private, token=token, dry_run=dry_run)


def publish_space(name: str, repo_id: str, out="out/spaces", private: bool = False,
                  token: str | None = None, dry_run: bool = False):
    """Build Space ``name`` into ``out/name`` for ``repo_id`` and upload that folder.

    Returns
    -------
    (Path, list of (str, int))
        The built folder and its files.
    """
    check_repo_id(repo_id)
    folder = build_space(name, out, space_id=repo_id)
    files = upload_folder(folder, repo_id, "space", private=private, token=token,
                          dry_run=dry_run, space_sdk="gradio",
                          commit_message=f"{name}: built with sarl publish")
    return folder, files


def publish_evaluate(repo_id: str, out="out/spaces", private: bool = False,
                     token: str | None = None, dry_run: bool = False):
    """The ``sarl_probe`` evaluate module (with its page) as the Space ``repo_id``; then
    ``evaluate.load(repo_id, "azimuth")`` loads it. See :func:`publish_space`."""
    return publish_space(EVALUATE_SPACE, repo_id, out, private=private, token=token,
                         dry_run=dry_run)


def publish_model(path, repo_id: str, private: bool = False, token: str | None = None,
                  dry_run: bool = False) -> list[tuple[str, int]]:
    """Upload a model folder (a saved encoder with its ``README.md`` card) or a model card
    alone (a ``README.md`` file, e.g. ``model_cards/sarl-spatial/README.md``) to the model
    repo ``repo_id``."""
    path = Path(path)
    if path.is_file():
        if path.name != "README.md":
            raise ValueError(f"a model card is a README.md file, got {path}")
        with tempfile.TemporaryDirectory(prefix="sarl_card_") as staging:
            shutil.copy2(path, Path(staging) / "README.md")
            return upload_folder(staging, repo_id, "model", private=private, token=token,
                                 dry_run=dry_run, commit_message="Model card from sarl_hf")
    if not (path / "README.md").is_file():
        raise FileNotFoundError(f"{path} has no README.md model card")
    return upload_folder(path, repo_id, "model", private=private, token=token,
                         dry_run=dry_run, commit_message="Model from sarl_hf")
