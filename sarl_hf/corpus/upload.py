"""Check a generated corpus folder and upload it to the Hugging Face Hub as a dataset repo."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import IncompleteCorpus
from ..files import sha256_file

#: What goes to the Hub: the card, the manifest and the data files (not ``.sarl/``).
PUBLISHED_PATTERNS = ("README.md", "manifest.json", "data/*/*.parquet")


def verify_corpus(folder) -> list[dict]:
    """Check that ``folder`` is a complete corpus whose files match ``manifest.json``.

    Returns the manifest's file records; raises ``ValueError`` naming what is missing,
    corrupt or unlisted.
    """
    folder = Path(folder)
    for name in ("README.md", "manifest.json"):
        if not (folder / name).is_file():
            raise IncompleteCorpus(f"{folder} has no {name}: not a finished corpus")
    records = json.loads((folder / "manifest.json").read_text())["files"]
    listed = {r["path"] for r in records}
    for record in records:
        path = folder / record["path"]
        if not path.is_file():
            raise ValueError(f"{record['path']} is listed in manifest.json but missing")
        if sha256_file(path) != record["sha256"]:
            raise ValueError(f"{record['path']} does not match its checksum in manifest.json")
    extra = sorted(str(p.relative_to(folder)) for p in folder.glob("data/*/*.parquet")
                   if str(p.relative_to(folder)) not in listed)
    if extra:
        raise ValueError(f"data files not in manifest.json: {extra[:5]}")
    return records


def files_to_publish(folder) -> list[tuple[str, int]]:
    """(relative path, bytes) of every file an upload sends, sorted."""
    folder = Path(folder)
    found = {p for pattern in PUBLISHED_PATTERNS for p in folder.glob(pattern) if p.is_file()}
    return sorted((str(p.relative_to(folder)), p.stat().st_size) for p in found)


def publish(folder, repo_id: str, private: bool = False, token: str | None = None,
            dry_run: bool = False) -> list[tuple[str, int]]:
    """Verify ``folder`` and upload its card, manifest and data files to ``repo_id``.

    With ``dry_run`` nothing is uploaded; either way the files (path, bytes) are
    returned. Each config's data files go in their own commit and the card and manifest
    last, so a repo never shows a card for data it lacks; a rerun after an interrupted
    upload sends only what the Hub does not already hold.
    """
    verify_corpus(folder)
    files = files_to_publish(folder)
    if dry_run:
        return files
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    for config in sorted({Path(path).parts[1] for path, _ in files if path.startswith("data/")}):
        api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=str(folder),
                          allow_patterns=[f"data/{config}/*.parquet"],
                          commit_message=f"SARL corpus: {config} data")
    api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=str(folder),
                      allow_patterns=["README.md", "manifest.json"],
                      commit_message="SARL corpus: dataset card and manifest")
    return files
