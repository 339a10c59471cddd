"""Uploads to the Hugging Face Hub, every Hub failure turned into one line.

What goes up is listed first (path, bytes): a dry run stops there, a real run sends the
same list. Whatever the Hub (or the way to it) raises becomes a
:class:`~sarl_hf.errors.HubError` that names the request and what came back.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from ..errors import HubError

#: Never uploaded from a folder: caches, build leftovers, version-control files.
SKIPPED_PARTS = ("__pycache__", ".git", ".sarl", ".ipynb_checkpoints")
SKIPPED_SUFFIXES = (".pyc", ".pyo")
#: The kinds of Hub repository an upload goes to.
REPO_TYPES = ("model", "dataset", "space")


def folder_files(folder) -> list[tuple[str, int]]:
    """(path relative to ``folder``, bytes) of every file an upload of ``folder`` sends,
    sorted; caches and compiled files are left out."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder {folder}")
    files = [p for p in folder.rglob("*") if p.is_file()
             and not set(p.relative_to(folder).parts) & set(SKIPPED_PARTS)
             and p.suffix not in SKIPPED_SUFFIXES]
    return sorted((p.relative_to(folder).as_posix(), p.stat().st_size) for p in files)


def _transport_errors() -> tuple:
    """The HTTP client errors of whichever clients ``huggingface_hub`` may use (httpx2,
    httpx, requests), those installed."""
    import importlib

    found = []
    for module, name in (("httpx2", "HTTPError"), ("httpx", "HTTPError"),
                         ("requests", "RequestException")):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except ImportError:
            continue
    return tuple(found)


def _first_line(err: Exception) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return " ".join(lines[0].split()) if lines else type(err).__name__


@contextlib.contextmanager
def hub_errors(request: str):
    """Run a block of Hub calls; turn what they raise into a one-line :class:`HubError`.

    Parameters
    ----------
    request : str
        What the block does, e.g. ``"upload to spaces/ORG/sarl_probe"``; it opens the
        message.
    """
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.errors import LocalTokenNotFoundError
    from huggingface_hub.errors import OfflineModeIsEnabled

    try:
        yield
    except OfflineModeIsEnabled:
        raise HubError(f"{request}: the Hub is switched off here (HF_HUB_OFFLINE is set); "
                       "nothing was sent") from None
    except HfHubHTTPError as err:
        raise HubError(f"{request}: the Hub answered {_first_line(err)}") from None
    except LocalTokenNotFoundError:
        raise HubError(f"{request}: no Hugging Face token; log in with `hf auth login` or "
                       "set HF_TOKEN") from None
    except (*_transport_errors(), ConnectionError, TimeoutError) as err:
        raise HubError(f"{request}: the Hub is unreachable ({_first_line(err)})") from None


def upload_folder(folder, repo_id: str, repo_type: str, private: bool = False,
                  token: str | None = None, dry_run: bool = False, space_sdk: str | None = None,
                  commit_message: str = "Upload with sarl publish") -> list[tuple[str, int]]:
    """Upload every file of ``folder`` (see :func:`folder_files`) to one Hub repository.

    Parameters
    ----------
    folder : str or Path
        The folder as it should appear in the repository.
    repo_id : str
        ``owner/name``.
    repo_type : str
        ``model``, ``dataset`` or ``space``.
    private : bool
        Create the repository private (an existing one keeps its visibility).
    token : str, optional
        Hugging Face token (default: the logged-in one or ``HF_TOKEN``).
    dry_run : bool
        List what would be sent; contact nothing.
    space_sdk : str, optional
        The SDK of a new Space (``gradio``).

    Returns
    -------
    list of (str, int)
        The files sent (or that would be): path in the repository, bytes.
    """
    if repo_type not in REPO_TYPES:
        raise ValueError(f"repo_type must be one of {REPO_TYPES}, got {repo_type!r}")
    check_repo_id(repo_id)
    files = folder_files(folder)
    if not files:
        raise ValueError(f"{folder} holds no file to upload")
    if dry_run:
        return files
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub import HfApi

    adds = [CommitOperationAdd(path_in_repo=path, path_or_fileobj=str(Path(folder) / path))
            for path, _ in files]  # exactly the listed files, in one commit
    with hub_errors(f"upload to {repo_type}s/{repo_id}"):
        api = HfApi(token=token)
        api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True,
                        space_sdk=space_sdk)
        api.create_commit(repo_id, adds, commit_message=commit_message, repo_type=repo_type)
    return files


def check_repo_id(repo_id: str) -> str:
    """``repo_id`` if it reads ``owner/name`` (letters, digits, ``-_.``), else a
    ``ValueError``."""
    if not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*", repo_id or ""):
        raise ValueError(f"a Hub repository id reads owner/name, got {repo_id!r}")
    return repo_id
