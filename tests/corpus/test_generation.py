"""The corpus as a Hugging Face dataset: ``sarl generate``, ``load_dataset``, ``stream``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import datasets
import numpy as np
import pytest
import yaml
from conftest import TINY_ARGS, TINY_PLAN, TINY_SEED, descendants, run_cli, still_alive_after
from datasets import Audio
from datasets.exceptions import DataFilesNotFoundError

from sarl_hf.corpus.captions import class_phrase
from sarl_hf.corpus.card import INCOMPLETE_MARK
from sarl_hf.corpus.generation import generate
from sarl_hf.corpus.plan import CorpusPlan, config_specs, split_sizes
from sarl_hf.corpus.schema import audio_array
from sarl_hf.corpus.streaming import stream
from sarl_hf.files import sha256_file as sha256_of
from sarl_hf.rendering.renderer import direction_of
from sarl_hf.scene.factors import FACTORS, FactorConfig
from sarl_hf.scene.spec import SceneSpec
from sarl_hf.sources import ProceduralBank

CHANNELS = {"mono": 1, "stereo": 2}
SCENES, SEED, DURATION_S, FS = 10, TINY_SEED, 0.5, 16000
ARGS, PLAN = TINY_ARGS, TINY_PLAN
CONFIGS = ("mono", "stereo", "multisource_mono", "multisource_stereo", "sensitivity_mono",
           "sensitivity_stereo")


def files_of(folder: Path) -> dict:
    """sha256 of every file of a corpus folder, by relative path."""
    return {str(p.relative_to(folder)): sha256_of(p) for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tiny_corpus) -> Path:
    return tiny_corpus


@pytest.fixture(scope="module")
def loaded(corpus):
    return {config: datasets.load_dataset(str(corpus), config)
            for config in CONFIGS}


def test_folder_is_hub_ready(corpus):
    card = (corpus / "README.md").read_text()
    header = yaml.safe_load(card.split("---")[1])
    assert [c["config_name"] for c in header["configs"]] == list(CONFIGS)
    assert [c["config_name"] for c in header["configs"] if c.get("default")] == ["stereo"]
    assert header["license"] and header["language"] == ["en"]
    assert header["size_categories"] == ["n<1K"]  # 10 + 10 + 5 + 5 + 84 + 84 rows
    infos = {i["config_name"]: i for i in header["dataset_info"]}
    sizes = split_sizes(SCENES)
    assert {s["name"]: s["num_examples"] for s in infos["mono"]["splits"]} == sizes
    assert {s["name"]: s["num_examples"] for s in infos["sensitivity_stereo"]["splits"]} == {
        "test": 2 * 42}  # 2 anchors of 8 + 5 + 4 + 12 + 5 + 4 + 4 variants
    for factor in FACTORS:
        assert f"`{factor}`" in card
    assert "## Citation" in card and "## How it was made" in card
    manifest = json.loads((corpus / "manifest.json").read_text())
    for record in manifest["files"]:
        assert sha256_of(corpus / record["path"]) == record["sha256"]
    assert sorted(r["path"] for r in manifest["files"]) == sorted(
        str(p.relative_to(corpus)) for p in corpus.glob("data/*/*.parquet"))
    assert (corpus / "data/mono/train-00000-of-00002.parquet").exists()


def test_labels_equal_the_specs_and_audio_decodes(loaded):
    for config, channels in CHANNELS.items():
        for split, size in split_sizes(SCENES).items():
            ds = loaded[config][split]
            assert len(ds) == size
            for row in ds:
                spec = SceneSpec.from_json(row["spec"])
                assert spec.channel_format == config == row["channel_format"]
                azimuth, elevation, distance = direction_of(spec)
                assert row["azimuth_deg"] == pytest.approx(azimuth)
                assert row["elevation_deg"] == pytest.approx(elevation)
                assert row["distance_m"] == pytest.approx(distance)
                assert row["azimuth"] == spec.sources[0].levels["azimuth"]
                assert row["class"] == spec.sources[0].levels["class"]
                assert row["rt60"] == spec.levels["rt60"]
                assert row["rt60_target_s"] == spec.room.rt60_s
                assert row["clip_id"] == spec.sources[0].clip_id
                audio = audio_array(row["audio"])
                assert audio.shape == (channels, int(DURATION_S * FS))
                assert row["audio"].metadata.sample_rate == FS
                assert np.abs(audio).max() > 0


def test_levels_are_balanced_in_every_split(loaded):
    config = FactorConfig()
    classes = ProceduralBank().classes
    for split in split_sizes(SCENES):
        ds = loaded["mono"][split]
        for factor in FACTORS:
            names = ds.features[factor].names
            assert names == config.level_names(factor, classes)
            counts = Counter(ds[factor])
            values = [counts.get(k, 0) for k in range(len(names))]
            assert max(values) - min(values) <= 1, (split, factor, values)


def test_streaming_load_equals_the_full_load(corpus, loaded):
    streamed = datasets.load_dataset(str(corpus), "stereo", split="validation", streaming=True)
    rows = list(streamed)
    full = loaded["stereo"]["validation"]
    assert [r["scene_id"] for r in rows] == full["scene_id"]
    for row, other in zip(rows, full):
        assert np.array_equal(audio_array(row["audio"]), audio_array(other["audio"]))
        assert row["caption"] == other["caption"]


def _undecoded(ds):
    return ds.cast_column("audio", Audio(sampling_rate=FS, decode=False))


def test_stream_yields_the_folder_examples(corpus):
    kwargs = dict(seed=SEED, duration_s=DURATION_S, bank=ProceduralBank(seed=SEED))
    for config, split, n in [("stereo", "train", split_sizes(SCENES)["train"]),
                             ("multisource_mono", "test", 1), ("sensitivity_stereo", "test", 2)]:
        on_the_fly = _undecoded(stream(config, split, n, **kwargs))
        stored = _undecoded(datasets.load_dataset(str(corpus), config, split=split,
                                                  streaming=True))
        assert on_the_fly.features == stored.features
        pairs = list(zip(on_the_fly, stored, strict=True))
        assert pairs
        for made, read in pairs:
            assert made == read  # every column, the audio's WAV bytes included


def test_stream_shards_split_over_dataloader_workers():
    import torch.utils.data

    ds = _undecoded(stream("mono", "train", 12, seed=1, duration_s=0.25, num_shards=4))
    assert ds.num_shards == 4
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2,
                                         collate_fn=lambda row: row["scene_id"])
    seen = list(loader)
    assert len(seen) == 12 and len(set(seen)) == 12
    assert sorted(seen) == sorted(s.scene_id for s in config_specs("mono", "train", 12, 1))


def test_multisource_rows_carry_every_source_and_a_caption(loaded):
    ds = loaded["multisource_stereo"]["train"]
    assert set(ds["channel_format"]) == {"stereo"}
    assert ds["scene_id"] == loaded["multisource_mono"]["train"]["scene_id"]  # same scenes
    assert set(ds["num_sources"]) == {2, 3}
    for row in ds:
        spec = SceneSpec.from_json(row["spec"])
        assert row["num_sources"] == len(spec.sources) == len(row["sources"])
        classes = [s.class_name for s in spec.sources]
        assert len(set(classes)) == len(classes)
        for i, (source, label) in enumerate(zip(spec.sources, row["sources"])):
            assert label["class_name"] == source.class_name
            assert label["azimuth_deg"] == pytest.approx(direction_of(spec, i)[0])
            assert label["distance"] == source.levels["distance"]
            assert class_phrase(source.class_name) in row["caption"]
        assert row["caption"].count(" and ") >= 1 and " in a " in row["caption"]
        assert audio_array(row["audio"]).shape[0] == CHANNELS[row["channel_format"]]


def test_sensitivity_rows_move_one_factor(loaded):
    mono = loaded["sensitivity_mono"]["test"]
    assert set(mono["channel_format"]) == {"mono"}
    assert mono["scene_id"] == loaded["sensitivity_stereo"]["test"]["scene_id"]
    per_anchor = {"azimuth": 8, "elevation": 5, "distance": 4, "class": 12, "rt60": 5,
                  "volume": 4, "shape": 4}
    anchors = TINY_PLAN.sensitivity_anchors
    assert Counter(mono["variant_factor"]) == {f: anchors * n for f, n in per_anchor.items()}
    assert len(set(mono["anchor_id"])) == anchors
    for row in mono:
        assert row[row["variant_factor"]] == row["variant_level"]
        assert row["anchor_id"].startswith("sensitivity-test-")


def _start_generate(folder: Path, extra=()) -> subprocess.Popen:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.Popen([sys.executable, "-m", "sarl_hf.cli", "generate", "--out",
                             str(folder)] + ARGS + list(extra), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for(proc: subprocess.Popen, found, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not found():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.005)


def _run_until_first_shard(folder: Path, extra=(), sig=signal.SIGKILL) -> list[int]:
    """Start ``sarl generate``, send it ``sig`` once its first shard is recorded; returns
    the processes it had started."""
    proc = _start_generate(folder, extra)
    _wait_for(proc, lambda: list(folder.glob(".sarl/shards/*/*.json")))
    children = descendants(proc.pid)
    proc.send_signal(sig)
    proc.wait()
    return children, proc.returncode


def test_killed_run_resumes_to_identical_bytes(corpus, tmp_path):
    folder = tmp_path / "killed"
    _run_until_first_shard(folder)
    assert not (folder / "manifest.json").exists(), "the run ended before it was killed"
    assert not list(folder.rglob("*.part"))  # the shard it was writing had no name yet
    assert INCOMPLETE_MARK in (folder / "README.md").read_text()
    with pytest.raises(DataFilesNotFoundError):  # an unfinished folder never loads
        datasets.load_dataset(str(folder), split="train", streaming=True)
    with pytest.warns(UserWarning, match="taking over the lock PID"):  # the killed run's
        code, _, stderr = run_cli(["generate", "--out", str(folder)] + ARGS)
    assert code == 2 and "--resume" in stderr
    code, stdout, stderr = run_cli(["generate", "--out", str(folder), "--resume"] + ARGS)
    assert code == 0, stderr
    assert "found complete" in stdout and "corpus complete" in stdout
    assert files_of(folder) == files_of(corpus)  # the command line writes what the library does


def test_a_second_run_on_a_folder_in_use_is_refused(corpus, tmp_path):
    folder = tmp_path / "busy"
    first = _start_generate(folder)
    try:
        _wait_for(first, lambda: (folder / ".sarl" / "plan.json").exists())
        code, _, stderr = run_cli(["generate", "--out", str(folder), "--resume"] + ARGS)
        assert code == 2 and f"in use by PID {first.pid} since" in stderr, stderr
        assert len(stderr.strip().splitlines()) == 1
        assert first.wait(timeout=300) == 0, first.stderr.read().decode()  # undisturbed
    finally:
        first.kill()
        first.wait()
    assert files_of(folder) == files_of(corpus)
    assert not (folder / ".sarl.lock").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_stopped_run_leaves_no_process_and_no_temporary_file(corpus, tmp_path, sig):
    folder = tmp_path / "stopped"
    children, code = _run_until_first_shard(folder, ["--num-proc", "2"], sig)
    assert len(children) >= 2  # the workers (and multiprocessing's resource tracker)
    left = still_alive_after(children, 30)
    for pid in left:  # not to leave them running when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not left
    assert not list(folder.rglob("*.part"))
    if sig == signal.SIGTERM:  # an orderly exit: lock released, folder marked unfinished
        assert code == 143 and not (folder / ".sarl.lock").exists()
        assert INCOMPLETE_MARK in (folder / "README.md").read_text()
        return
    with pytest.warns(UserWarning, match="taking over the lock PID"):
        report = generate(folder, PLAN, ProceduralBank(seed=SEED), resume=True,
                          progress=False)
    assert report.complete and report.reused
    assert files_of(folder) == files_of(corpus)


def test_corrupt_shard_is_detected_and_rebuilt(corpus, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(corpus, folder)
    shard = folder / "data/stereo/train-00001-of-00002.parquet"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    (folder / "data/mono/test-00000-of-00001.parquet").unlink()
    with pytest.warns(UserWarning) as warned:
        report = generate(folder, PLAN, ProceduralBank(seed=SEED), resume=True, progress=False)
    messages = " ".join(str(w.message) for w in warned)
    assert "train-00001-of-00002.parquet is corrupt" in messages
    assert "test-00000-of-00001.parquet is missing" in messages
    assert sorted(report.rendered) == ["data/mono/test-00000-of-00001.parquet",
                                       "data/stereo/train-00001-of-00002.parquet"]
    assert files_of(folder) == files_of(corpus)


def test_slices_and_processes_give_the_same_corpus(corpus, tmp_path):
    bank = ProceduralBank(seed=SEED)
    parts = [tmp_path / "slice0", tmp_path / "slice1"]
    for index, part in enumerate(parts):
        report = generate(part, PLAN, bank, num_shards=2, shard_index=index, progress=False)
        assert not report.complete and report.missing
    shutil.copytree(parts[1], parts[0], dirs_exist_ok=True)
    report = generate(parts[0], PLAN, bank, num_shards=2, shard_index=1, resume=True,
                      progress=False)
    assert report.complete and not report.rendered
    assert files_of(parts[0]) == files_of(corpus)
    parallel = tmp_path / "parallel"
    generate(parallel, PLAN, bank, num_proc=2, progress=False)
    assert files_of(parallel) == files_of(corpus)


def test_bad_arguments_are_refused(corpus, tmp_path):
    code, _, stderr = run_cli(["generate", "--out", str(corpus), "--resume", "--seed", "9"]
                              + ARGS[:4] + ARGS[6:])
    assert code == 2 and "other parameters" in stderr
    (tmp_path / "notes.txt").write_text("mine")
    code, _, stderr = run_cli(["generate", "--out", str(tmp_path)] + ARGS)
    assert code == 2 and "not empty" in stderr
    code, _, stderr = run_cli(["generate", "--out", str(tmp_path / "x"), "--shard-index",
                               "2", "--num-shards", "2"] + ARGS)
    assert code == 2 and "shard_index" in stderr
    with pytest.raises(ValueError, match="formats"):
        CorpusPlan(formats=("octo",))
    with pytest.raises(ValueError, match="only a 'test' split"):
        config_specs("sensitivity_mono", "train", 1)
    with pytest.raises(ValueError, match="config must be one of"):
        config_specs("multisource", "train", 1)  # a kind, not a config: it names no format


REPO = Path(__file__).resolve().parents[2]


def test_publish_dry_run_lists_the_hub_files_and_refuses_a_corrupt_folder(corpus, tmp_path):
    script = [sys.executable, str(REPO / "dataset_scripts" / "publish.py")]
    done = subprocess.run(script + ["--folder", str(corpus), "--repo-id", "me/sarl",
                                    "--dry-run"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    listed = [line.split()[-1] for line in done.stdout.splitlines()[:-1]]
    expected = ["README.md", "manifest.json"] + sorted(
        str(p.relative_to(corpus)) for p in corpus.glob("data/*/*.parquet"))
    assert sorted(listed) == sorted(expected)
    assert "would upload" in done.stdout and ".sarl" not in done.stdout
    broken = tmp_path / "broken"
    shutil.copytree(corpus, broken)
    (broken / "data/mono/train-00000-of-00002.parquet").write_bytes(b"PAR1")
    done = subprocess.run(script + ["--folder", str(broken), "--repo-id", "me/sarl",
                                    "--dry-run"], capture_output=True, text=True)
    assert done.returncode == 2 and "checksum" in done.stderr


def test_published_parameters_are_valid_generate_arguments():
    sys.path.insert(0, str(REPO / "dataset_scripts"))
    try:
        import generate_sarl
    finally:
        sys.path.pop(0)
    from sarl_hf import cli

    args = cli.build_parser().parse_args(["generate", "--out", "x"] + generate_sarl.PUBLISHED)
    assert args.scenes == 5000 and len(args.formats) == 5 and args.sensitivity_anchors == 50
