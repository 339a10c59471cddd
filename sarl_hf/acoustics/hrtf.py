"""Head-related impulse responses read from SOFA files (SimpleFreeFieldHRIR, through
:mod:`.sofa`)."""

from __future__ import annotations

import os
from functools import cached_property
from math import gcd
from pathlib import Path

import numpy as np
from scipy import signal

from .directions import fibonacci_sphere
from .sofa import read_sofa_hrirs

SOFA_ENV = "SARL_SOFA"
DEFAULT_SOFA_PATHS = (
    "/usr/share/libmysofa/MIT_KEMAR_normal_pinna.sofa",
    "/usr/local/share/libmysofa/MIT_KEMAR_normal_pinna.sofa",
)


def default_sofa_path() -> Path:
    """The SOFA file the ``binaural`` format uses when none is given.

    ``$SARL_SOFA`` first, then the MIT KEMAR set that Debian's ``libmysofa1`` installs.
    """
    candidates = ([os.environ[SOFA_ENV]] if os.environ.get(SOFA_ENV) else []) + list(
        DEFAULT_SOFA_PATHS)
    for candidate in candidates:
        if Path(candidate).is_file():
            return Path(candidate)
    raise FileNotFoundError(
        "no HRTF for the binaural format: install Debian's libmysofa1 "
        "(`apt-get install libmysofa1`, which ships MIT_KEMAR_normal_pinna.sofa), "
        f"or point ${SOFA_ENV} or sofa_path at any SimpleFreeFieldHRIR SOFA file")


class HRTFSet:
    """Measured HRIRs with their directions, resampled on demand.

    Parameters
    ----------
    directions : ndarray, shape (m, 3)
        Unit vectors of the measured directions in the listener frame (x front, y left,
        z up).
    hrirs : ndarray, shape (m, 2, taps)
        (left, right) impulse responses at ``sample_rate``.
    sample_rate : int
    source : str
        Where the set came from (file name), for labels and cards.
    """

    def __init__(self, directions: np.ndarray, hrirs: np.ndarray, sample_rate: int,
                 source: str = ""):
        if hrirs.ndim != 3 or hrirs.shape[1] != 2 or len(hrirs) != len(directions):
            raise ValueError(f"hrirs must have shape (m, 2, taps) matching directions "
                             f"(m, 3); got {hrirs.shape} and {directions.shape}")
        self.directions = directions
        self.hrirs = hrirs
        self.sample_rate = int(sample_rate)
        self.source = source
        self._resampled: dict[int, np.ndarray] = {}

    @classmethod
    def from_sofa(cls, path: str | os.PathLike | None = None) -> "HRTFSet":
        """Read a SimpleFreeFieldHRIR SOFA file (default: ``default_sofa_path()``) through
        ``sofar`` (:func:`~sarl_hf.acoustics.sofa.read_sofa_hrirs`: ``Data.Delay`` added,
        ears told apart by ``ReceiverPosition``, other conventions refused)."""
        path = Path(path) if path is not None else default_sofa_path()
        directions, hrirs, rate = read_sofa_hrirs(path)
        if abs(rate - round(rate)) > 1e-6:
            raise ValueError(f"{path}: Data.SamplingRate must be a whole number of Hz, got "
                             f"{rate}")
        return cls(directions, hrirs, int(round(rate)), source=path.name)

    def hrirs_at(self, sample_rate: int) -> np.ndarray:
        """HRIRs resampled to ``sample_rate``, shape (m, 2, taps), cached.

        Diffuse-field energy normalised: averaged over all directions of the sphere, an
        ear's response has unit energy, like the unit impulse of an omni capsule, so
        binaural scenes sit at the same level as the other formats.
        """
        if sample_rate not in self._resampled:
            g = gcd(int(sample_rate), self.sample_rate)
            up, down = int(sample_rate) // g, self.sample_rate // g
            hrirs = signal.resample_poly(self.hrirs, up, down, axis=-1)
            index, weight = self.diffuse_weights()
            energy = np.einsum("m,mt->", weight, (hrirs[index] ** 2).sum(axis=1)) / 2
            self._resampled[sample_rate] = hrirs / np.sqrt(energy)
        return self._resampled[sample_rate]

    def diffuse_weights(self, num_directions: int = 4096):
        """Measured directions and weights (summing to 1) that sample the sphere evenly.

        Returns
        -------
        index : ndarray of int, shape (k,)
        weight : ndarray, shape (k,)
        """
        index, counts = np.unique(self.nearest(fibonacci_sphere(num_directions)),
                                  return_counts=True)
        return index, counts / counts.sum()

    @cached_property
    def _direction_tree(self):
        from scipy.spatial import cKDTree

        return cKDTree(self.directions)

    def nearest(self, directions: np.ndarray) -> np.ndarray:
        """Index (n,) of the measured direction nearest to each unit vector (n, 3)."""
        return self._direction_tree.query(directions)[1]
