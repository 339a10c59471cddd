"""Embedding a corpus: cached by fingerprints, resumable, equal under accelerate."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import hold_lock, run_cli
from tiny_models import save_tiny

from sarl_hf.corpus.plan import split_sizes
from sarl_hf.embeddings.cache import SUCCESS, cache_dir, load_embeddings
from sarl_hf.embeddings.embed import embed_corpus
from sarl_hf.encoders import load_encoder
from sarl_hf.encoders.hf import TransformersEncoder
from sarl_hf.files import sha256_file as sha256_of

SCENES = 10


@pytest.fixture(scope="module")
def corpus(tiny_corpus):
    return tiny_corpus


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny("wav2vec2", tmp_path_factory.mktemp("models") / "w2v")


def parts_of(folder: Path) -> dict:
    return {str(p.relative_to(folder)): sha256_of(p) for p in sorted(folder.rglob("*.parquet"))}


def test_embeddings_align_with_labels_and_a_second_run_hits(corpus, model_dir, tmp_path):
    encoder = TransformersEncoder(str(model_dir))
    report = embed_corpus(encoder, corpus, "stereo", tmp_path, batch_size=4, progress=False)
    assert not report.hits and len(report.embedded) == 4  # train: 2 shards of 4; 1 each
    embeddings, labels = load_embeddings(report.folder, "stereo", "train")
    assert labels.num_rows == split_sizes(SCENES)["train"] == len(embeddings["layer_02"])
    assert "audio" not in labels.column_names and "azimuth_deg" in labels.column_names
    import datasets

    stored = datasets.load_dataset(str(corpus), "stereo", split="train")
    assert labels.column("scene_id").to_pylist() == stored["scene_id"]
    from sarl_hf.corpus.schema import audio_array

    direct = encoder.embed([audio_array(stored[1]["audio"])], 16000)["layer_02"][0]
    assert np.abs(embeddings["layer_02"][1] - direct).max() < 1e-5
    again = embed_corpus(encoder, corpus, "stereo", tmp_path, progress=False)
    assert again.hits == ["train", "validation", "test"] and not again.embedded
    other = TransformersEncoder(str(model_dir), pooling="max")
    assert cache_dir(tmp_path, other, corpus, "stereo") != report.folder


def test_partial_cache_resumes_to_the_same_parts(corpus, model_dir, tmp_path):
    encoder = TransformersEncoder(str(model_dir))
    full = embed_corpus(encoder, corpus, "stereo", tmp_path / "a", progress=False).folder
    partial = tmp_path / "b"
    report = embed_corpus(encoder, corpus, "stereo", partial, progress=False)
    (report.folder / "stereo" / "train" / SUCCESS).unlink()
    first = sorted((report.folder / "stereo" / "train").glob("*.parquet"))[0]
    first.unlink()
    with pytest.raises(ValueError, match="not a complete"):
        load_embeddings(report.folder, "stereo", "train")
    resumed = embed_corpus(encoder, corpus, "stereo", partial, progress=False)
    assert resumed.embedded == [first] and resumed.hits == ["validation", "test"]
    assert parts_of(resumed.folder) == parts_of(full)


def test_accelerate_two_processes_equal_one(corpus, model_dir, tmp_path):
    args = ["embed", "--corpus", str(corpus), "--config", "stereo", "--encoder",
            str(model_dir), "--batch-size", "2", "--no-progress"]
    # one thread per process in both runs (accelerate's default), so that the same
    # arithmetic gives the same bytes
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    single = subprocess.run([sys.executable, "-m", "sarl_hf.cli"] + args
                            + ["--cache", str(tmp_path / "one")], env=env, capture_output=True,
                            text=True, timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]
    # --multi_gpu is accelerate's multi-process launcher; without CUDA it runs on CPUs (gloo)
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes",
              "2", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
              "--main_process_port", "29517", "-m", "sarl_hf.cli"]
    done = subprocess.run(launch + args + ["--cache", str(tmp_path / "two")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "of 2" in done.stdout
    (one,), (two,) = (list((tmp_path / name).iterdir()) for name in ("one", "two"))
    assert one.name == two.name
    assert parts_of(one) == parts_of(two)
    for split in ("train", "validation", "test"):
        assert json.loads((one / "stereo" / split / SUCCESS).read_text()) == json.loads(
            (two / "stereo" / split / SUCCESS).read_text())


def test_embed_cli_errors(corpus, tmp_path):
    code, _, stderr = run_cli(["embed", "--corpus", str(tmp_path), "--config", "stereo",
                               "--encoder", "sarl-logmel", "--cache", str(tmp_path)])
    assert code == 2 and "manifest.json" in stderr
    code, _, stderr = run_cli(["embed", "--corpus", str(corpus), "--config", "stereo",
                               "--encoder", "sarl-test/not-here", "--cache", str(tmp_path)])
    assert code == 2 and "cannot load" in stderr


def flip_a_byte(path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def logmel():
    return load_encoder("sarl-logmel", channel_format="stereo")


def test_a_changed_shard_is_refused_not_embedded(corpus, logmel, tmp_path):
    changed = tmp_path / "corpus"
    shutil.copytree(corpus, changed)
    shard = changed / "data/stereo/validation-00000-of-00001.parquet"
    flip_a_byte(shard)
    with pytest.raises(ValueError, match=rf"{shard} does not match its sha256 in manifest"):
        embed_corpus(logmel, changed, "stereo", tmp_path / "cache", progress=False)
    folder = cache_dir(tmp_path / "cache", logmel, changed, "stereo")
    assert not (folder / "stereo/validation" / shard.name).exists()
    assert not (folder / "stereo/validation" / SUCCESS).exists()


def test_damaged_parts_are_embedded_again_with_a_warning(corpus, logmel, tmp_path):
    first = embed_corpus(logmel, corpus, "stereo", tmp_path, progress=False).folder
    clean = parts_of(first)
    train = sorted((first / "stereo/train").glob("*.parquet"))
    flip_a_byte(train[0])
    train[1].write_bytes(train[1].read_bytes()[:100])  # truncated
    next((first / "stereo/validation").glob("*.parquet")).unlink()
    (first / "stereo/test" / SUCCESS).write_text("{")
    (first / "stereo/test/.test-00000-of-00001.parquet.abc.part").write_bytes(b"half")
    with pytest.warns(UserWarning) as warned:
        report = embed_corpus(logmel, corpus, "stereo", tmp_path, progress=False)
    said = " ".join(str(w.message) for w in warned)
    assert f"{train[0]} is missing or does not match its checksum" in said
    assert f"{train[1]} is missing or does not match its checksum" in said
    assert "_SUCCESS.json is not an embeddings cache record" in said
    assert report.hits == [] and len(report.embedded) == 3  # test's part was intact
    assert parts_of(first) == clean
    assert not list(first.rglob("*.part"))  # what the interrupted run left is gone


def test_loading_a_changed_part_is_an_error_naming_it(corpus, logmel, tmp_path):
    folder = embed_corpus(logmel, corpus, "stereo", tmp_path, progress=False).folder
    part = next((folder / "stereo/test").glob("*.parquet"))
    flip_a_byte(part)
    with pytest.raises(ValueError, match=rf"{part} does not match its sha256 in _SUCCESS"):
        load_embeddings(folder, "stereo", "test")
    (folder / "stereo/test" / SUCCESS).write_text("")
    with pytest.raises(ValueError, match="_SUCCESS.json is not an embeddings cache record"):
        load_embeddings(folder, "stereo", "test")
    code, stdout, _ = run_cli(["verify", str(tmp_path)])
    assert code == 1 and "stereo/test/_SUCCESS.json is not an embeddings cache" in stdout


def test_a_cache_folder_in_use_is_refused(corpus, logmel, tmp_path):
    folder = cache_dir(tmp_path, logmel, corpus, "stereo")
    holder = hold_lock(folder)
    try:
        with pytest.raises(RuntimeError, match=f"in use by PID {holder.pid} since"):
            embed_corpus(logmel, corpus, "stereo", tmp_path, progress=False)
    finally:
        holder.kill()
        holder.wait()
    with pytest.warns(UserWarning, match="taking over the lock"):
        report = embed_corpus(logmel, corpus, "stereo", tmp_path, progress=False)
    assert len(report.embedded) == 4
    code, stdout, _ = run_cli(["verify", str(report.folder)])
    assert code == 0 and "intact" in stdout
