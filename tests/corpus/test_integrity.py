"""One plan per folder, checked: shards carry their plan, resume refuses what this plan did
not write, an unfinished folder never loads, ``sarl verify`` says what is wrong."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import datasets
import pyarrow.parquet as pq
import pytest
from conftest import TINY_ARGS, TINY_PLAN, TINY_SEED, run_cli
from datasets.exceptions import DataFilesNotFoundError

from sarl_hf.corpus.generation import generate
from sarl_hf.corpus.plan import CorpusPlan
from sarl_hf.errors import CorpusMismatch
from sarl_hf.sources import ProceduralBank

BANK = ProceduralBank(seed=TINY_SEED)
#: A small corpus: mono only, 4 shards (train 2, validation 1, test 1).
SMALL = CorpusPlan(scenes=5, formats=("mono",), seed=0, duration_s=0.25, multisource_scenes=0,
                   sensitivity_anchors=0, scenes_per_shard=2, shards_per_split=1,
                   bank=BANK.to_dict())


def flip_a_byte(path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture
def copy(tiny_corpus, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(tiny_corpus, folder)
    return folder


def test_every_record_and_data_file_carries_the_plan(tiny_corpus):
    digest = TINY_PLAN.digest()
    manifest = json.loads((tiny_corpus / "manifest.json").read_text())
    assert manifest["plan_digest"] == digest
    records = sorted(tiny_corpus.glob(".sarl/shards/*/*.json"))
    assert len(records) == len(manifest["files"])
    for path in records:
        record = json.loads(path.read_text())
        assert record["plan_digest"] == digest
        metadata = pq.read_schema(tiny_corpus / record["path"]).metadata
        assert json.loads(metadata[b"sarl_hf"]) == {"plan_digest": digest}
    assert replace(TINY_PLAN, seed=1).digest() != digest


def test_slices_of_two_plans_copied_together_are_refused(tmp_path):
    seed0, seed1 = tmp_path / "seed0", tmp_path / "seed1"
    generate(seed0, SMALL, BANK, num_shards=2, shard_index=0, progress=False)
    other = replace(SMALL, seed=1)
    generate(seed1, other, BANK, num_shards=2, shard_index=1, progress=False)
    shutil.copytree(seed1, seed0, dirs_exist_ok=True)  # as the README says to gather slices
    with pytest.raises(CorpusMismatch, match=r"4 file\(s\) that this corpus's plan .* did not "
                       r"write: .*data/mono/train-00000-of-00002\.parquet") as refused:
        generate(seed0, other, BANK, num_shards=2, shard_index=1, resume=True, progress=False)
    assert sorted(refused.value.paths) == [  # seed 0's shards and records, named
        ".sarl/shards/mono/train-00000-of-00002.json",
        ".sarl/shards/mono/validation-00000-of-00001.json",
        "data/mono/train-00000-of-00002.parquet", "data/mono/validation-00000-of-00001.parquet"]
    assert not (seed0 / "manifest.json").exists()


def test_a_file_dropped_into_data_is_refused_and_reported(copy):
    shutil.copy(copy / "data/mono/test-00000-of-00001.parquet", copy / "data/mono/extra.parquet")
    code, _, stderr = run_cli(["generate", "--out", str(copy), "--resume"] + TINY_ARGS)
    assert code == 2 and "data/mono/extra.parquet" in stderr and "did not write" in stderr
    assert (copy / "data/mono/extra.parquet").exists()  # kept for its owner to remove
    code, stdout, _ = run_cli(["verify", str(copy)])
    assert code == 1 and "data/mono/extra.parquet: not in manifest.json" in stdout


def test_a_folder_whose_plan_is_gone_is_refused(copy):
    (copy / ".sarl" / "plan.json").unlink()
    other = [a if a != str(TINY_SEED) else "9" for a in TINY_ARGS]
    code, _, stderr = run_cli(["generate", "--out", str(copy), "--resume"] + other)
    assert code == 2 and "no .sarl/plan.json" in stderr and "lost" in stderr


def test_a_damaged_plan_is_named(copy):
    (copy / ".sarl" / "plan.json").write_text("")
    code, _, stderr = run_cli(["generate", "--out", str(copy), "--resume"] + TINY_ARGS)
    assert code == 2 and ".sarl/plan.json is not a corpus plan: not valid JSON" in stderr


def test_an_unfinished_folder_does_not_load(tmp_path):
    folder = tmp_path / "half"
    report = generate(folder, SMALL, BANK, num_shards=2, shard_index=0, progress=False)
    assert not report.complete and list(folder.glob("data/mono/*.parquet"))
    with pytest.raises(DataFilesNotFoundError):
        datasets.load_dataset(str(folder), split="train", streaming=True)
    assert "THIS CORPUS IS NOT FINISHED" in (folder / "README.md").read_text()
    code, stdout, _ = run_cli(["verify", str(folder)])
    assert code == 1 and "not finished" in stdout


def test_verify_names_a_changed_shard_and_passes_an_intact_corpus(tiny_corpus, copy):
    code, stdout, _ = run_cli(["verify", str(tiny_corpus)])
    assert code == 0 and "intact" in stdout
    flip_a_byte(copy / "data/stereo/train-00001-of-00002.parquet")
    (copy / "data/mono/.train-00000-of-00002.parquet.x1y2.part").write_bytes(b"half")
    code, stdout, _ = run_cli(["verify", str(copy)])
    assert code == 1 and "2 problem(s)" in stdout, stdout
    assert "data/stereo/train-00001-of-00002.parquet: does not match its checksum" in stdout
    assert "a temporary file an interrupted run left" in stdout
