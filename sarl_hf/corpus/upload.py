"""Check a generated corpus folder and upload it to the Hugging Face Hub as a dataset repo."""

from __future__ import annotations

from pathlib import Path

from .integrity import verify_corpus

#: What goes to the Hub: the card, the manifest and the data files (not ``.sarl/``).
PUBLISHED_PATTERNS = ("README.md", "manifest.json", "data/*/*.parquet")


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
