"""A folder of rendered clips with a checksummed manifest, written atomically.

Layout of a cache folder::

    <folder>/manifest.json          {"params": {...}, "clips": {clip_id: {"file", "sha256"}}}
    <folder>/<clip path>.wav        one mono float32 WAV per clip (scipy writer: no
                                    timestamp chunk, so equal samples give equal bytes)

Every file and the manifest are written to a temporary file in the same folder and moved
into place with :func:`os.replace`, so a reader never sees half a file. A clip is only
read back when its bytes match the manifest's sha256; anything else counts as missing.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
from scipy.io import wavfile

from ..files import atomic_write, json_digest, wav_bytes

CACHE_ENV = "SARL_CACHE"
MANIFEST = "manifest.json"


def default_cache_root() -> Path:
    """Root of sarl_hf's caches: ``$SARL_CACHE``, else ``~/.cache/sarl_hf``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path.home() / ".cache" / "sarl_hf"


def params_digest(params: Mapping[str, Any], length: int = 16) -> str:
    """First ``length`` hex digits of the sha256 of ``params`` as compact canonical JSON
    (the separators name every existing cache folder, so they stay)."""
    return json_digest(params, length, separators=(",", ":"))


class ClipCache:
    """Rendered clips in one folder, indexed by a manifest of sha256 checksums.

    Parameters
    ----------
    folder : str or Path
        The cache folder (created when missing).
    params : Mapping
        What the clips were made from, stored in the manifest for reference.
    """

    def __init__(self, folder: str | Path, params: Mapping[str, Any]):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.params = dict(params)
        self._entries: dict[str, dict[str, str]] = self._read_manifest()

    def _read_manifest(self) -> dict[str, dict[str, str]]:
        """Entries of the manifest on disk ({} when missing or unreadable)."""
        try:
            clips = json.loads((self.folder / MANIFEST).read_text("utf-8"))["clips"]
        except (OSError, ValueError, KeyError, TypeError):
            return {}
        return {k: v for k, v in clips.items()
                if isinstance(v, dict) and {"file", "sha256"} <= set(v)}

    def path(self, clip_id: str) -> Path:
        """File of a clip: its id (``bank/class/split/index``) less the bank, plus ``.wav``."""
        return self.folder / (clip_id.split("/", 1)[-1] + ".wav")

    def _valid_bytes(self, clip_id: str) -> bytes | None:
        """The file's bytes if the manifest lists it with a matching sha256, else None."""
        entry = self._entries.get(clip_id)
        if entry is None:
            return None
        try:
            data = (self.folder / entry["file"]).read_bytes()
        except OSError:
            return None
        return data if hashlib.sha256(data).hexdigest() == entry["sha256"] else None

    def missing(self, clip_ids: Iterable[str]) -> list[str]:
        """The clip ids whose file is absent, unlisted or fails its checksum."""
        return [clip_id for clip_id in clip_ids if self._valid_bytes(clip_id) is None]

    def read(self, clip_id: str) -> tuple[np.ndarray, int] | None:
        """((samples,) float32 audio, sample rate in Hz) of a valid clip, else None."""
        data = self._valid_bytes(clip_id)
        if data is None:
            return None
        sample_rate, audio = wavfile.read(io.BytesIO(data))
        return np.asarray(audio, dtype=np.float32), int(sample_rate)

    def write(self, clip_id: str, audio: np.ndarray, sample_rate: int) -> None:
        """Store one clip atomically and list it (call :meth:`save_manifest` to persist).

        Parameters
        ----------
        clip_id : str
            The clip's id.
        audio : np.ndarray
            (samples,) signal, stored as float32.
        sample_rate : int
            Sample rate in Hz.
        """
        data = wav_bytes(audio, sample_rate)
        path = self.path(clip_id)
        atomic_write(path, data)
        self._entries[clip_id] = {"file": path.relative_to(self.folder).as_posix(),
                                  "sha256": hashlib.sha256(data).hexdigest()}

    def save_manifest(self) -> None:
        """Merge this object's entries into the manifest on disk, atomically.

        Entries another process added meanwhile are kept, so concurrent builders lose
        at most work (a clip listed by neither is rendered again), never correctness.
        """
        merged = {**self._read_manifest(), **self._entries}
        self._entries = merged
        text = json.dumps({"params": self.params, "clips": dict(sorted(merged.items()))},
                          indent=1, sort_keys=True)
        atomic_write(self.folder / MANIFEST, text)
