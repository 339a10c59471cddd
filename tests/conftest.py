"""Shared test helpers and fixtures: the tiny corpus every stage after the corpus reads,
hand-made scenes, the command line run in-process, and markers for system packages."""

import contextlib
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from sarl_hf import cli  # noqa: E402
from sarl_hf.acoustics.hrtf import default_sofa_path  # noqa: E402
from sarl_hf.acoustics.rooms import floor_polygon  # noqa: E402
from sarl_hf.corpus.generation import generate  # noqa: E402
from sarl_hf.corpus.plan import CorpusPlan  # noqa: E402
from sarl_hf.encoders.base import Encoder  # noqa: E402
from sarl_hf.scene.factors import FactorConfig  # noqa: E402
from sarl_hf.scene.placement import place  # noqa: E402
from sarl_hf.scene.spec import RoomSpec, SceneSpec, SourceSpec  # noqa: E402
from sarl_hf.sources import ProceduralBank, gm_available  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
#: The tiny corpus: 10 scenes of 0.5 s in mono and stereo (6/2/2), 5 multisource scenes,
#: 2 sensitivity anchors (84 variants per format), at most 4 rows per shard (rows spread
#: evenly), no fewer files than that needs.
TINY_SEED = 0
TINY_PLAN = CorpusPlan(scenes=10, formats=("mono", "stereo"), seed=TINY_SEED, duration_s=0.5,
                       multisource_scenes=5, sensitivity_anchors=2, scenes_per_shard=4,
                       shards_per_split=1, bank=ProceduralBank(seed=TINY_SEED).to_dict())
#: The same corpus as ``sarl generate`` arguments.
TINY_ARGS = ["--scenes", "10", "--formats", "mono,stereo", "--seed", str(TINY_SEED),
             "--duration", "0.5", "--multisource-scenes", "5", "--sensitivity-anchors", "2",
             "--scenes-per-shard", "4", "--shards-per-split", "1", "--no-progress"]


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """A finished corpus folder of :data:`TINY_PLAN`; tests copy it before changing it."""
    folder = tmp_path_factory.mktemp("tiny") / "sarl"
    report = generate(folder, TINY_PLAN, ProceduralBank(seed=TINY_SEED), progress=False)
    assert report.complete
    return folder


@pytest.fixture(scope="session")
def hf_modules_cache(tmp_path_factory):
    """A temporary folder for the modelling code transformers copies out of remote-code
    model folders (instead of ~/.cache/huggingface/modules), for the whole session: its
    ``transformers_modules`` package is imported once."""
    from transformers import dynamic_module_utils

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dynamic_module_utils, "HF_MODULES_CACHE",
                      str(tmp_path_factory.mktemp("hf_modules")))
        yield


#: A throwaway package that registers a binaural encoder through the entry-point group
#: ``sarl_hf.encoders``: the interaural level difference and both ears' levels.
BINAURAL_PLUGIN = '''
import torch

from sarl_hf.encoders import ModuleEncoder


class EarLevels(torch.nn.Module):
    def forward(self, audio):                                   # (batch, 2, samples)
        level = 10 * torch.log10(audio.pow(2).mean(-1) + 1e-10)  # (batch, 2) dB
        return {"ild": level[:, :1] - level[:, 1:], "levels": level}


def build(gain_db: float = 0.0, device: str = "cpu"):
    return ModuleEncoder(EarLevels(), sample_rate=16000, num_channels=2, name="toy-binaural",
                         device=device, version={"gain_db": gain_db},
                         channel_layout="binaural", paradigm="handcrafted")
'''


@pytest.fixture
def binaural_plugin(tmp_path, monkeypatch) -> str:
    """The distribution ``toy-binaural-sarl`` installed into a temporary folder on
    ``sys.path`` (its package and its ``.dist-info`` with the entry point); gives the
    encoder name it registers."""
    site = tmp_path / "site"
    (site / "toy_binaural_sarl").mkdir(parents=True)
    (site / "toy_binaural_sarl" / "__init__.py").write_text(BINAURAL_PLUGIN)
    info = site / "toy_binaural_sarl-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-binaural-sarl\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text("[sarl_hf.encoders]\n"
                                           "toy-binaural = toy_binaural_sarl:build\n")
    monkeypatch.syspath_prepend(str(site))
    yield "toy-binaural"
    sys.modules.pop("toy_binaural_sarl", None)


def caption_vector(text: str, dim: int = 64) -> np.ndarray:
    """A fixed random vector per text (seeded by its digest): different texts are nearly
    orthogonal, equal texts equal."""
    import hashlib

    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


class OracleEncoder(Encoder):
    """An audio–text encoder whose answer is known: it looks each scene of a corpus up by
    its samples and embeds it as its caption's :func:`caption_vector`; its text tower
    embeds a caption the same way. Retrieval and the content–position test must score
    100% with it."""

    name = "oracle"
    num_channels = None
    text_layer = "projection"

    def __init__(self, corpus, channel_policy: str = "native", device: str = "cpu"):
        import hashlib

        import pyarrow.parquet as pq

        from sarl_hf.corpus.schema import audio_array

        super().__init__(channel_policy)
        self.captions = {}
        for path in sorted(Path(corpus).glob("data/multisource_*/*.parquet")):
            for row in pq.read_table(path, columns=["audio", "caption"]).to_pylist():
                key = hashlib.sha256(audio_array(row["audio"]).tobytes()).hexdigest()
                self.captions[key] = row["caption"]

    @property
    def layers(self):
        return ("projection",)

    def _embed(self, signals):
        import hashlib

        keys = [hashlib.sha256(np.ascontiguousarray(s).tobytes()).hexdigest() for s in signals]
        return {"projection": np.stack([caption_vector(self.captions.get(k, "")) for k in keys])}

    def embed_text(self, texts):
        return np.stack([caption_vector(t) for t in texts])


def run_cli(argv) -> tuple[int, str, str]:
    """``sarl_hf.cli.main(argv)`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as stop:  # argparse refusing an argument
            code = stop.code
    return code, out.getvalue(), err.getvalue()


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def descendants(pid: int) -> list[int]:
    """Every living process below ``pid`` (children, their children, ...)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1]
                                               .split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return [p for p in found if alive(p)]


def still_alive_after(pids, seconds: float) -> list[int]:
    """The processes of ``pids`` still running after waiting up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


HOLD_LOCK = ("import sys, time\nfrom sarl_hf.locks import folder_lock\n"
             "with folder_lock(sys.argv[1], 'a test holder'):\n    print('held', flush=True)\n"
             "    time.sleep(120)\n")


def hold_lock(folder) -> subprocess.Popen:
    """A process that holds ``folder``'s lock until it is killed."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(folder)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def _has_sofa() -> bool:
    try:
        default_sofa_path()
        return True
    except FileNotFoundError:
        return False


needs_sofa = pytest.mark.skipif(not _has_sofa(), reason="no SOFA HRTF: `make test` installs "
                                "libmysofa1")
needs_gm = pytest.mark.skipif(not gm_available(), reason="no FluidR3_GM soundfont, fluidsynth or "
                              "espeak-ng: `make test` installs fluid-soundfont-gm fluidsynth "
                              "espeak-ng")


def make_scene(shape="shoebox", volume_m3=120.0, height_m=3.0, rt60_s=0.5, azimuth_deg=30.0,
               elevation_deg=0.0, distance_m=1.5, channel_format="mono",
               seed=0, room_seed=0, sample_rate=16000, class_name="harmonic") -> SceneSpec:
    """A hand-made scene; the listener is placed legally by the design's own search."""
    rng = np.random.default_rng(room_seed)
    corners = floor_polygon(shape, volume_m3 / height_m, rng)
    room = RoomSpec(shape, corners.tolist(), height_m, rt60_s)
    sources = [SourceSpec(azimuth_deg, elevation_deg, distance_m, class_name,
                          f"procedural/{class_name}/train/0000")]
    found = place(sources, FactorConfig(wall_margin_m=0.5), rng, room=room)
    assert found is not None, "test scene cannot be placed"
    spec = SceneSpec(room=room, listener=found[1], sources=sources,
                     channel_format=channel_format, seed=seed, sample_rate=sample_rate,
                     duration_s=1.0)
    return spec.validate()


def nearest_centroid_accuracy(train: dict, test: dict, classes) -> float:
    """Test accuracy of a nearest-centroid classifier on standardised features.

    ``train`` and ``test`` map each class name to its clips' features (clips, features);
    the standardisation uses every train clip.
    """
    all_train = np.concatenate([train[c] for c in classes])
    mean, std = all_train.mean(axis=0), all_train.std(axis=0) + 1e-6
    centroids = np.stack([((train[c] - mean) / std).mean(axis=0) for c in classes])
    correct = total = 0
    for label, class_name in enumerate(classes):
        z = (test[class_name] - mean) / std
        predicted = np.argmin(((z[:, None, :] - centroids[None]) ** 2).sum(axis=2), axis=1)
        correct += int(np.sum(predicted == label))
        total += len(z)
    return correct / total
