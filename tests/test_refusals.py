"""Every bad input of the issue's list, and the cases like it, refused up front with one line
that names the argument or file, the value and what is allowed; kept as tables so that none
comes back. Sizes the machine cannot hold are refused by arithmetic, before any work. Every
case here failed on the code before this issue (a traceback, a usage line, a wrong result or
an unbounded allocation)."""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import replace

import numpy as np
import pytest
from conftest import TINY_ARGS, make_scene, run_cli
from tiny_models import save_tiny

from sarl_hf.corpus.plan import CorpusPlan
from sarl_hf.encoders import load_encoder
from sarl_hf.encoders.base import Encoder
from sarl_hf.probing.protocol import probe
from sarl_hf.rendering.renderer import Renderer
from sarl_hf.scene.balanced import design
from sarl_hf.scene.factors import FactorConfig
from sarl_hf.scene.spec import SceneSpec

SMALL = ["--scenes", "10", "--formats", "mono", "--duration", "0.25", "--no-progress"]
BENCH = ["--scenes", "10", "--duration", "0.25", "--formats", "mono", "--sensitivity-anchors",
         "0", "--no-progress"]
EMBED = ["--corpus", "{corpus}", "--cache", "{out}", "--no-progress"]

#: (command line, what its one-line error must say); {out}, {file}, {corpus} and {model}
#: are a new folder, a file, the tiny corpus and a tiny transformers model.
COMMAND_LINE = [
    (["generate", "--formats", "mono,mono"], r"formats: mono given more than once"),
    (["generate", "--scenes", "0"], r"scenes must be an integer >= 3, got 0"),
    (["generate", "--scenes", "-4"], r"scenes must be an integer >= 3, got -4"),
    (["generate", "--duration", "1e-4"], r"duration_s must be a finite number >= 0.1, got "
                                         r"0.0001"),
    (["generate", "--duration", "inf"], r"duration_s must be a finite number >= 0.1, got inf"),
    (["generate", "--duration", "nan"], r"duration_s must be a finite number >= 0.1, got nan"),
    (["generate", "--duration", "1e6"], r"one row takes \d+ bytes, more than a data file "
                                        r"may hold"),  # before the memory it would need
    (["generate", "--sample-rate", "1000000000"], r"sample_rate \(Hz\) must be an integer in "
                                                  r"\[8000, 192000\], got 1000000000"),
    (["generate", "--sample-rate", "7"], r"sample_rate \(Hz\) must be an integer in \[8000"),
    (["generate", "--scenes", "1000000000"], r"the corpus \(.* scenes.*\) would need about .* "
                                             r"of memory"),
    (["generate", "--out", "{file}"], r"out: .* is a file; give a folder"),
    (["generate", "--seed", "-1"], r"seed must be an integer >= 0, got -1"),
    (["generate", "--num-proc", "0"], r"num_proc must be an integer >= 1, got 0"),
    (["generate", "--scenes-per-shard", "0"], r"scenes_per_shard must be an integer >= 1"),
    (["generate", "--shards-per-split", "0"], r"shards_per_split must be an integer >= 1"),
    (["generate", "--duration", "2000", "--formats", "foa"],
     r"one row takes \d+ bytes, more than a data file may hold \(500000000\)"),
    (["generate", "--multisource-scenes", "-1"], r"multisource_scenes must be an integer >= 0"),
    (["generate", "--scenes", "1e9"], r"argument --scenes: invalid int value: '1e9'"),
    (["embed", "--config", "multisource", "--format", "foa", "--encoder", "sarl-logmel"],
     r"channel_format 'foa' is not a format of .*: it was generated in \['mono', 'stereo'\]"),
    (["embed", "--config", "stereo", "--splits", "bogus", "--encoder", "sarl-logmel"],
     r"splits: \['bogus'\] not among \('train', 'validation', 'test'\)"),
    (["embed", "--config", "sensitivity", "--format", "mono", "--splits", "train",
      "--encoder", "sarl-logmel"],
     r"config 'sensitivity_mono' of .* has no \['train'\] split; it has \['test'\]"),
    (["embed", "--config", "octo", "--encoder", "sarl-logmel"],
     r"has no config 'octo'; its configs are"),
    (["embed", "--config", "stereo", "--encoder", "sarl-logmel", "--device", "bogus"],
     r"device must be a torch device such as cpu, cuda or cuda:1, got 'bogus'"),
    (["embed", "--config", "stereo", "--encoder", "sarl-logmel", "--device", "cuda:7"],
     r"device 'cuda:7': this machine has \d CUDA device"),
    (["embed", "--config", "stereo", "--encoder", "{model}", "--dtype", "bogus"],
     r"dtype must be one of \('float32', 'float16', 'bfloat16'\), got 'bogus'"),
    (["embed", "--config", "stereo", "--encoder", "{model}", "--dtype", "cuda"],
     r"dtype must be one of .*, got 'cuda'"),
    (["embed", "--config", "stereo", "--encoder", "{model}", "--dtype", "int8"],
     r"dtype must be one of .*, got 'int8'"),
    (["embed", "--config", "stereo", "--encoder", "hear:nonexistent_mod"],
     r"cannot import 'nonexistent_mod'"),
    (["bench", "--n-boot", "0"], r"n_boot must be an integer >= 1, got 0"),
    (["bench", "--n-boot", "-5"], r"n_boot must be an integer >= 1, got -5"),
    (["bench", "--encoders", ","], r"encoders: give at least one encoder name, got \[\]"),
    (["bench", "--encoders", "sarl-logmel,sarl-logmel"], r"encoders: \['sarl-logmel'\] given "
                                                         r"more than once"),
    (["bench", "--encoders", "hear:nonexistent_mod"], r"encoder 'hear:nonexistent_mod': no "
                                                      r"module named 'nonexistent_mod'"),
    (["bench", "--device", "bogus"], r"device must be a torch device"),
    (["bench", "--scenes", "5"], r"scenes: the probe needs at least 2 rows in every split; 5 "
                                 r"scenes give"),
    (["bench", "--multisource-scenes", "4"], r"multisource_scenes: the probe needs at least 2"),
    (["verify", "{out}"], r"is neither a corpus folder .* nor a sarl bench output folder"),
]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save_tiny("wav2vec2", tmp_path_factory.mktemp("model") / "w2v")


def _command(argv, tiny_corpus, model, tmp_path):
    names = {"out": tmp_path / "out", "file": tmp_path / "a-file", "corpus": tiny_corpus,
             "model": model}
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "out").mkdir(exist_ok=True) if argv[0] == "verify" else None
    extra = {"generate": ["--out", "{out}"] + SMALL, "bench": ["--out", "{out}"] + BENCH,
             "embed": EMBED}.get(argv[0], [])
    if "--out" in argv:
        extra = extra[2:]
    given = argv[:1] + extra + argv[1:]  # the argument under test comes last: it wins
    return [a.format(**{k: str(v) for k, v in names.items()}) for a in given]


@pytest.mark.parametrize("argv, said", COMMAND_LINE, ids=[" ".join(a) for a, _ in COMMAND_LINE])
def test_the_command_line_refuses_up_front(argv, said, tiny_corpus, model, tmp_path):
    start = time.monotonic()
    code, stdout, stderr = run_cli(_command(argv, tiny_corpus, model, tmp_path))
    assert code == 2, stdout + stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
    assert stderr.startswith(f"sarl {argv[0]}: error: ")
    assert re.search(said, stderr), stderr
    assert time.monotonic() - start < 30  # before any heavy work
    out = tmp_path / "out"
    assert not list(out.glob("**/*.parquet")) and not (out / "corpus").exists()


class _ZeroRate(Encoder):
    name, sample_rate = "zero-rate", 0
    layers = ("x",)

    def _embed(self, signals):
        return {"x": np.zeros((len(signals), 1))}


def _spec(**changes):
    spec = make_scene()
    source = replace(spec.sources[0], **changes.pop("source", {}))
    return replace(spec, sources=[source], **changes)


def _probe(train=None, test_labels=None, n_test=8, **options):
    rng = np.random.default_rng(0)
    x = {s: rng.normal(size=(n, 3)) for s, n in (("train", 12), ("validation", 6),
                                                  ("test", n_test))}
    y = {s: {"class": np.arange(len(x[s])) % 3} for s in x}
    if train is not None:
        y["train"]["class"] = train
    if test_labels is not None:
        y["test"]["class"] = test_labels
    if options.pop("dim0", False):
        x = {s: v[:, :0] for s, v in x.items()}
    return lambda: probe(x, y, tasks=("class",), n_boot=options.pop("n_boot", 20), **options)


def _embed(audio, rate=16000):
    return lambda: load_encoder("sarl-logmel").embed(audio, rate)


#: (call, what its ValueError must say).
LIBRARY = [
    (lambda: Renderer().render(_spec(source={"class_name": "bogus"})),
     r"sources\[0\]\.class_name: 'bogus' is not a class of the 'procedural' bank"),
    (lambda: Renderer().render(_spec(source={"class_name": "bell"})),
     r"sources\[0\]\.clip_id: 'procedural/harmonic/train/0000' is not a clip of class 'bell'"),
    (lambda: _spec(source={"gain_db": 400.0}).validate(),
     r"sources\[0\]\.gain_db: must be a finite number in \[-60, 40\] dB, got 400.0"),
    (lambda: Renderer().render(_spec(duration_s=1e6)),
     r"a scene of 1e\+06 s at 16000 Hz in mono would need about .* of memory"),
    (lambda: _spec(seed=-3).validate(), r"seed: must be an integer >= 0, got -3"),
    (_embed(np.ones((1, 1600), complex)), r"audio\[0\] must hold real samples, got complex128"),
    (_embed(np.ones((1, 1600), np.float32), 7), r"sample_rate \(Hz\) must be an integer in "
                                                r"\[8000, 192000\], got 7"),
    (_embed(np.ones((1, 1), np.float32)), r"audio\[0\] must be .* at least 160 samples \(0.01 "
                                          r"s at 16000 Hz\), got shape \(1, 1\)"),
    (lambda: _ZeroRate().embed(np.ones((1, 1600)), 16000),
     r"zero-rate: the model's sample_rate \(Hz\) must be an integer in \[8000, 192000\], "
     r"got 0"),
    (lambda: SceneSpec.from_dict({}), r"spec: missing field\(s\) \['room', 'listener', "
                                      r"'sources'\]"),
    (lambda: SceneSpec.from_dict({**make_scene().to_dict(), "room": "big"}),
     r"room: must be a dict of RoomSpec fields, got str"),
    (lambda: SceneSpec.from_dict({**make_scene().to_dict(), "sources": [{"azimuth_deg": 1}]}),
     r"sources\[0\]: missing field\(s\) \['elevation_deg', 'distance_m', 'class_name', "
     r"'clip_id'\]"),
    (lambda: SceneSpec.from_dict({**make_scene().to_dict(), "colour": "red"}),
     r"spec: unknown field\(s\) \['colour'\]"),
    (lambda: SceneSpec.from_dict({**make_scene().to_dict(), "duration_s": "long"}).validate(),
     r"duration_s: must be a finite number >= 0.1 s, got 'long'"),
    (lambda: design(4, seed=-1), r"seed must be an integer >= 0, got -1"),
    (lambda: design(4, seed=1.5), r"seed must be an integer >= 0, got 1.5"),
    (lambda: design(4, seed="a"), r"seed must be an integer >= 0, got 'a'"),
    (lambda: design(4, factors="x"), r"factors must be a FactorConfig or None, got str 'x'"),
    (lambda: design(0), r"n must be an integer >= 1, got 0"),
    (lambda: design(10**12), r"a design of 1000000000000 scenes would need about"),
    (lambda: FactorConfig(volume_levels_m3=(-5,)), r"volume_levels_m3 must be a finite number "
                                                   r"> 0, got -5"),
    (lambda: FactorConfig(rt60_levels_s=(0.5, 0.5)), r"rt60_levels_s must not repeat a level"),
    (lambda: FactorConfig.from_dict({"volumes": 1}), r"factors: unknown field\(s\) "
                                                     r"\['volumes'\]"),
    (lambda: CorpusPlan(scenes=0), r"scenes must be an integer >= 3, got 0"),
    (lambda: CorpusPlan(formats=("mono", "mono")), r"formats: mono given more than once"),
    (lambda: CorpusPlan(formats="mono"), r"formats must be a sequence of format names"),
    (lambda: CorpusPlan(duration_s=float("inf")), r"duration_s must be a finite number"),
    (lambda: CorpusPlan.from_dict({"scenes": 5, "seeds": 1}), r"plan: unknown field\(s\) "
                                                              r"\['seeds'\]"),
    (_probe(dim0=True), r"embeddings\['train'\] must be an \(n, dim\) array with n >= 2 rows "
                        r"and dim >= 1, got shape \(12, 0\)"),
    (_probe(n_test=1), r"embeddings\['test'\] must be an \(n, dim\) array with n >= 2 rows"),
    (_probe(grid=()), r"grid must be a non-empty sequence of L2 strengths > 0, got \(\)"),
    (_probe(grid=(1.0, -2.0)), r"grid \(L2 strengths\) must be a finite number > 0, got -2.0"),
    (_probe(n_boot=0), r"n_boot must be an integer >= 1, got 0"),
    (_probe(seed=-1), r"seed must be an integer >= 0, got -1"),
    (_probe(device="bogus"), r"device must be a torch device"),
    (_probe(train=np.arange(12) % 3 + 0.5), r"labels\['train'\]\['class'\] must be integer "
                                            r"class labels >= 0, got float64 values \(such as "
                                            r"0.5\)"),
    (_probe(test_labels=np.array(["a"] * 8)), r"labels\['test'\]\['class'\] must be integer "
                                              r"class labels >= 0, got <U1 values"),
    (_probe(test_labels=-np.ones(8, int)), r"labels\['test'\]\['class'\] must be integer class "
                                           r"labels >= 0, got -1"),
    (_probe(train=np.arange(12) % 3 * 10**7), r"class: class id 20000000 with only 26 rows"),
    (_probe(n_boot=10**13), r"a probe of 26 rows x 3 dims with 10000000000000 resamples would "
                            r"need about"),
]


@pytest.mark.parametrize("call, said", LIBRARY, ids=[s[:40] for _, s in LIBRARY])
def test_the_library_refuses_up_front(call, said):
    start = time.monotonic()
    with pytest.raises(ValueError, match=said) as refused:
        call()
    assert "\n" not in str(refused.value)
    assert time.monotonic() - start < 30


#: (file of a copy of the tiny corpus, what it is overwritten with (or a function of its
#: bytes), command, what the one-line
#: error must say); the command's {out} is the copy. A data file or shard record the stage
#: wrote itself is rebuilt with a warning instead (tests/corpus), so it is not here.
RESUME = ["generate", "--out", "{out}", "--resume"] + TINY_ARGS
EMBED_COPY = ["embed", "--corpus", "{out}", "--config", "stereo", "--encoder", "sarl-logmel",
              "--cache", "{out}/cache", "--no-progress"]
DAMAGED_FILES = [
    (".sarl/plan.json", b"", RESUME, r"\.sarl/plan\.json is not a corpus plan: not valid JSON"),
    (".sarl/plan.json", b"[1]", RESUME, r"\.sarl/plan\.json is not a corpus plan: it holds a "
                                        r"JSON list, not a dict"),
    (".sarl/plan.json", b"\xff\xfe", RESUME, r"\.sarl/plan\.json is not a corpus plan: not "
                                             r"UTF-8 text"),
    (".sarl/plan.json", lambda plan: plan.replace(b'"seed": 0,', b'"seed": 7,'), RESUME,
     r"other parameters \(.*\.sarl/plan\.json differs in seed\)"),
    ("manifest.json", b"{", EMBED_COPY, r"manifest\.json is not a corpus manifest: not valid "
                                        r"JSON"),
    ("manifest.json", b"[]", EMBED_COPY, r"manifest\.json is not a corpus manifest: it holds a "
                                         r"JSON list"),
]


@pytest.mark.parametrize("name, content, argv, said", DAMAGED_FILES,
                         ids=[f"{n}={c!r:.12}" for n, c, _, _ in DAMAGED_FILES])
def test_a_damaged_file_is_named(name, content, argv, said, tiny_corpus, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_corpus, copy)
    path = copy / name
    path.write_bytes(content(path.read_bytes()) if callable(content) else content)
    code, stdout, stderr = run_cli([a.format(out=copy) for a in argv])
    assert code == 2, stdout + stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
    assert re.search(said, stderr), stderr
    assert not (copy / "cache").exists()
