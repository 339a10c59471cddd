"""A bank of real timbres rendered offline: General MIDI instruments and espeak-ng speech.

Eleven instrument classes (ten General MIDI families on the FluidR3_GM soundfont that
Debian's ``fluid-soundfont-gm`` installs, plus its drum kits on channel 10) and a
``speech`` class spoken by ``espeak-ng``. Every clip is drawn from a generator seeded by
(bank seed, class, split, index): program, tempo, motif, pitches, velocities and note
lengths (:mod:`.phrases`), or accent, voice, pitch, speed and sentences (:mod:`.speech`).

The bank renders its clips once into a cache folder
``<cache root>/gm/<version>/<class>/<split>/<index>.wav`` (float32 mono at
:data:`NATIVE_RATE`, loudness-normalised, checksummed in ``manifest.json``; see
:mod:`.cache`). ``<version>`` is a digest of everything the clips depend on (seed, clip
length, tables, soundfont, tool versions), so a change never reuses stale clips.
:meth:`GMBank.load` resamples the cached clip, crops it (or zero-pads it beyond
``clip_s``) to the requested duration and normalises the result to
:data:`TARGET_LOUDNESS_LUFS`.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
from scipy import signal
from tqdm.auto import tqdm

from ..processes import run_tool
from ..splits import SPLITS
from .banks import bank_from_name, register_bank
from .base import SourceBank, check_seed, clip_counts, clip_length
from .cache import ClipCache, default_cache_root, params_digest
from .loudness import TARGET_LOUDNESS_LUFS, is_silent, loudness_normalise
from .phrases import (DRUM_KITS, FLUIDSYNTH_OPTIONS, INSTRUMENTS, draw_drums, draw_phrase,
                      render_phrase)
from .speech import ACCENTS, SENTENCES, VARIANTS, draw_speech, render_speech

SOUNDFONT_ENV = "SARL_SOUNDFONT"
DEFAULT_SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2",
                      "/usr/share/soundfonts/FluidR3_GM.sf2")
APT_PACKAGES = "fluid-soundfont-gm fluidsynth espeak-ng"
INSTALL_HINT = f"install with `apt-get install {APT_PACKAGES}` (or `make system-deps`)"
NATIVE_RATE = 22050
DEFAULT_CLIP_S = 6.0
#: Bump when the way clips are drawn or rendered changes (invalidates caches).
RECIPE_VERSION = 1
CLASSES = tuple(sorted([*INSTRUMENTS, "drum_kit", "speech"]))


class MissingSystemDependency(FileNotFoundError):
    """A Debian package the ``gm`` bank needs is not installed."""


@dataclass(frozen=True)
class GMTools:
    """Resolved soundfont and executables, with the versions that go into the cache key."""

    soundfont: Path
    fluidsynth: str
    espeak: str

    def versions(self) -> dict:
        """Soundfont name and size, FluidSynth and espeak-ng version numbers."""
        return {"soundfont": [self.soundfont.name, self.soundfont.stat().st_size],
                "fluidsynth": _tool_version([self.fluidsynth, "--version"]),
                "espeak_ng": _tool_version([self.espeak, "--version"])}


def _tool_version(command: list[str]) -> str:
    """First dotted version number a ``--version`` command prints ('' if none)."""
    result = run_tool(command)
    found = re.search(r"\d+(\.\d+)+", (result.stdout + result.stderr).decode("utf-8",
                                                                            "replace"))
    return found.group(0) if found else ""


def find_soundfont(soundfont: str | Path | None = None) -> Path:
    """The General MIDI soundfont: ``soundfont``, else ``$SARL_SOUNDFONT``, else FluidR3_GM.

    MissingSystemDependency (a FileNotFoundError) naming the Debian package when absent.
    """
    if soundfont is not None or os.environ.get(SOUNDFONT_ENV):
        given = Path(soundfont if soundfont is not None else os.environ[SOUNDFONT_ENV])
        if given.is_file():
            return given
        where = "soundfont" if soundfont is not None else f"${SOUNDFONT_ENV}"
        raise MissingSystemDependency(
            f"gm source bank: soundfont {str(given)!r} (from {where}) does not exist; the "
            f"bank renders the FluidR3 General MIDI soundfont of Debian's fluid-soundfont-gm: "
            f"{INSTALL_HINT}, or point {where} at a General MIDI .sf2 file")
    for candidate in DEFAULT_SOUNDFONTS:
        if Path(candidate).is_file():
            return Path(candidate)
    raise MissingSystemDependency(
        f"gm source bank: no FluidR3_GM.sf2 soundfont (looked in {', '.join(DEFAULT_SOUNDFONTS)});"
        f" it comes with Debian's fluid-soundfont-gm: {INSTALL_HINT}, or set ${SOUNDFONT_ENV}")


def find_tools(soundfont: str | Path | None = None) -> GMTools:
    """Soundfont, ``fluidsynth`` and ``espeak-ng``; MissingSystemDependency if one is absent."""
    found = find_soundfont(soundfont)
    programs = {name: shutil.which(name) for name in ("fluidsynth", "espeak-ng")}
    absent = [name for name, path in programs.items() if path is None]
    if absent:
        raise MissingSystemDependency(f"gm source bank: {' and '.join(absent)} not found on "
                                      f"PATH: {INSTALL_HINT}")
    return GMTools(found, programs["fluidsynth"], programs["espeak-ng"])


def gm_available() -> bool:
    """Whether the soundfont, ``fluidsynth`` and ``espeak-ng`` are all installed."""
    try:
        find_tools()
    except MissingSystemDependency:
        return False
    return True


def _fit(x: np.ndarray, n_samples: int) -> np.ndarray:
    """(n_samples,) ``x`` cropped or zero-padded at the end."""
    return np.pad(x[:n_samples], (0, max(0, n_samples - x.size)))


class GMBank(SourceBank):
    """General MIDI instrument families and espeak-ng speech, rendered once into a cache.

    Parameters
    ----------
    seed : int
        Bank seed (non-negative).
    clips_per_split : Mapping[str, int], optional
        Clips per class in each split; missing splits keep the defaults
        (train 16, validation 4, test 4).
    clip_s : float
        Length of each rendered clip in seconds; :meth:`load` zero-pads beyond it.
    cache_dir : str or Path, optional
        Cache root; the clips live in ``cache_dir/gm/<version>/``. Default
        ``$SARL_CACHE``, else ``~/.cache/sarl_hf``.
    soundfont : str or Path, optional
        General MIDI soundfont; default ``$SARL_SOUNDFONT``, else Debian's FluidR3_GM.
    num_workers : int, optional
        Clips rendered in parallel while building (default: the number of CPUs, at most 8).
    progress : bool
        Show a progress bar while rendering.

    Raises
    ------
    MissingSystemDependency
        When the soundfont, ``fluidsynth`` or ``espeak-ng`` is not installed; the
        message says which Debian packages to install.

    Attributes
    ----------
    version : str
        Digest of everything the clips depend on (names the cache folder).
    rendered : int
        Clips rendered by the last :meth:`build` (0 when the cache was complete).
    """

    name = "gm"

    def __init__(self, seed: int = 0, clips_per_split: Mapping[str, int] | None = None,
                 clip_s: float = DEFAULT_CLIP_S, cache_dir: str | Path | None = None,
                 soundfont: str | Path | None = None, num_workers: int | None = None,
                 progress: bool = True):
        check_seed(seed)
        if not 0.5 <= clip_s <= 60.0:
            raise ValueError(f"clip_s must be between 0.5 and 60 seconds, got {clip_s!r}")
        if num_workers is not None and (int(num_workers) != num_workers or num_workers < 1):
            raise ValueError(f"num_workers must be a positive integer, got {num_workers!r}")
        self.seed, self.clip_s = int(seed), float(clip_s)
        self.clips_per_split = clip_counts(clips_per_split)
        self.tools = find_tools(soundfont)
        self.num_workers = int(num_workers or min(os.cpu_count() or 1, 8))
        self.progress = progress
        params = self._params()
        self.version = params_digest(params)
        root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_root()
        self.cache = ClipCache(root / "gm" / self.version, params)
        self.rendered = 0
        self.build()

    def _params(self) -> dict:
        """Everything the rendered clips depend on."""
        return {"recipe_version": RECIPE_VERSION, "seed": self.seed, "clip_s": self.clip_s,
                "native_rate": NATIVE_RATE, "target_lufs": TARGET_LOUDNESS_LUFS,
                "instruments": INSTRUMENTS, "drum_kits": DRUM_KITS,
                "fluidsynth_options": FLUIDSYNTH_OPTIONS,
                "speech": {"sentences": SENTENCES, "accents": ACCENTS, "variants": VARIANTS},
                **self.tools.versions()}

    @property
    def classes(self) -> tuple[str, ...]:
        return CLASSES

    def clip_ids(self, split: str, class_name: str) -> list[str]:
        self._check_split_and_class(split, class_name)
        return [f"gm/{class_name}/{split}/{index:04d}"
                for index in range(self.clips_per_split[split])]

    def all_clip_ids(self) -> list[str]:
        """Every clip id of the bank, split by split and class by class."""
        return [i for s in SPLITS for c in self.classes for i in self.clip_ids(s, c)]

    def _parse(self, clip_id: str) -> tuple[str, str, int]:
        """(class, split, index) of a clip id of this bank, else ValueError."""
        parts = clip_id.split("/") if isinstance(clip_id, str) else []
        if (len(parts) == 4 and parts[0] == "gm" and parts[1] in CLASSES and parts[2] in SPLITS
                and parts[3].isdigit() and int(parts[3]) < self.clips_per_split[parts[2]]
                and clip_id == f"gm/{parts[1]}/{parts[2]}/{int(parts[3]):04d}"):
            return parts[1], parts[2], int(parts[3])
        raise ValueError(f"clip_id {clip_id!r} is not a clip of this gm bank")

    def _rng(self, class_name: str, split: str, index: int) -> np.random.Generator:
        """The generator of one clip, seeded by (bank seed, class, split, index)."""
        class_key = int(hashlib.sha1(class_name.encode("utf-8")).hexdigest()[:8], 16)
        return np.random.default_rng([self.seed, class_key, SPLITS.index(split), index])

    def clip_info(self, clip_id: str) -> dict:
        """What a clip plays: program, instrument and notes, or voice and text, plus its class."""
        class_name, split, index = self._parse(clip_id)
        rng = self._rng(class_name, split, index)
        if class_name == "speech":
            info = draw_speech(rng, split, self.clip_s)
        elif class_name == "drum_kit":
            info = draw_drums(rng, self.clip_s)
        else:
            info = draw_phrase(rng, class_name, self.clip_s)
        return {"class_name": class_name, **info}

    def render(self, clip_id: str) -> np.ndarray:
        """Render one clip (no cache): (clip_s * NATIVE_RATE,) float32 at -26 LUFS.

        RuntimeError if the tools fail or the rendered clip is silent.
        """
        info = self.clip_info(clip_id)
        if info["class_name"] == "speech":
            raw = render_speech(self.tools.espeak, info, NATIVE_RATE)
        else:
            raw = render_phrase(self.tools.fluidsynth, self.tools.soundfont, info, self.clip_s,
                                NATIVE_RATE)
        clip = _fit(raw, int(round(self.clip_s * NATIVE_RATE)))
        if is_silent(clip):
            raise RuntimeError(f"gm bank: {clip_id} rendered silent ({info.get('instrument')})")
        return loudness_normalise(clip, NATIVE_RATE)

    def build(self) -> int:
        """Render every clip the cache lacks or holds corrupt; returns how many it rendered."""
        missing = self.cache.missing(self.all_clip_ids())
        self.rendered = len(missing)
        if not missing:
            return 0
        bar = tqdm(total=len(missing), desc=f"gm bank {self.version}: rendering clips",
                   unit="clip", disable=not self.progress)
        try:
            with bar, ThreadPoolExecutor(max_workers=self.num_workers) as pool:
                try:
                    for count, (clip_id, clip) in enumerate(
                            zip(missing, pool.map(self.render, missing)), start=1):
                        self.cache.write(clip_id, clip, NATIVE_RATE)
                        bar.update(1)
                        if count % 32 == 0:
                            self.cache.save_manifest()
                except BaseException:  # stop at once: no queued clip is rendered
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
        finally:
            self.cache.save_manifest()
        return self.rendered

    def _native(self, clip_id: str) -> np.ndarray:
        """(samples,) float32 cached clip at NATIVE_RATE, rendered again if missing or corrupt."""
        cached = self.cache.read(clip_id)
        if cached is not None and cached[1] == NATIVE_RATE:
            return cached[0]
        warnings.warn(f"gm bank: cache entry of {clip_id} is missing or corrupt in "
                      f"{self.cache.folder}; rendering it again", stacklevel=3)
        clip = self.render(clip_id)
        self.cache.write(clip_id, clip, NATIVE_RATE)
        self.cache.save_manifest()
        return clip

    def load(self, clip_id: str, sample_rate: int, duration_s: float) -> np.ndarray:
        """Load a clip at ``sample_rate`` Hz (>= 8 kHz) for ``duration_s`` seconds.

        Returns a (round(duration_s * sample_rate),) float32 clip: the cached clip
        resampled, cropped (zero-padded beyond ``clip_s``) and normalised to
        :data:`TARGET_LOUDNESS_LUFS` on exactly the returned samples.
        """
        self._parse(clip_id)
        n_samples = clip_length(sample_rate, duration_s)
        if sample_rate < 8000:
            raise ValueError(f"sample_rate must be at least 8000 Hz for gm clips, "
                             f"got {sample_rate}")
        native = self._native(clip_id).astype(np.float64)
        # Crop before resampling, with a margin so the filter edge stays outside the output.
        native = native[: int(math.ceil(n_samples * NATIVE_RATE / sample_rate)) + 256]
        if sample_rate != NATIVE_RATE:
            common = math.gcd(int(sample_rate), NATIVE_RATE)
            native = signal.resample_poly(native, int(sample_rate) // common,
                                          NATIVE_RATE // common)
        return loudness_normalise(_fit(native, n_samples), int(sample_rate))

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": "gm", "seed": self.seed,
                "clips_per_split": dict(self.clips_per_split), "clip_s": self.clip_s,
                "version": self.version, "soundfont": self.tools.soundfont.name}


def default_bank_name() -> str:
    """``"gm"`` if its soundfont, fluidsynth and espeak-ng are installed, else ``"procedural"``."""
    return "gm" if gm_available() else "procedural"


def _rebuild(d: Mapping) -> GMBank:
    """A gm bank from its ``to_dict()``; other tool versions (another ``version``) warn:
    its clips differ."""
    bank = GMBank(seed=d.get("seed", 0), clips_per_split=d.get("clips_per_split"),
                  clip_s=d.get("clip_s", DEFAULT_CLIP_S))
    if d.get("version") not in (None, bank.version):
        warnings.warn(f"gm bank rebuilt as version {bank.version}, not {d['version']}: "
                      f"other tool versions or soundfont, so its clips differ", stacklevel=3)
    return bank


register_bank("gm", build=lambda argument, seed: GMBank(seed=seed), rebuild=_rebuild)
# auto: gm where its Debian packages are installed, else procedural
register_bank("auto", build=lambda argument, seed: bank_from_name(default_bank_name(), seed))
