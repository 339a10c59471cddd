"""The corpus in a training loop: ``collate`` under a torch ``DataLoader`` with 2 workers
over a streaming split of 2 files gives (batch, channels, samples) float32 audio and label
tensors, both workers busy, every row once."""

from __future__ import annotations

from collections import Counter

import datasets
import numpy as np
import pytest
import torch
from datasets import Audio
from torch.utils.data import DataLoader, get_worker_info

from sarl_hf.corpus.batches import collate
from sarl_hf.corpus.generation import generate
from sarl_hf.corpus.plan import CorpusPlan
from sarl_hf.corpus.schema import audio_array
from sarl_hf.sources import ProceduralBank

BANK = ProceduralBank(seed=3)
#: stereo and mono, 0.25 s; 2 files per split (train 3 + 3 rows, validation and test 1 + 1)
PLAN = CorpusPlan(scenes=10, formats=("mono", "stereo"), seed=3, duration_s=0.25,
                  multisource_scenes=0, sensitivity_anchors=0, shards_per_split=2,
                  bank=BANK.to_dict())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batches") / "sarl"
    assert generate(folder, PLAN, BANK, progress=False).complete
    return folder


def collate_in_worker(rows):
    """:func:`collate`, and which worker made the batch."""
    batch = collate(rows)
    batch["worker"] = get_worker_info().id
    return batch


def test_two_workers_share_a_streaming_split_and_see_every_row_once(corpus):
    stored = datasets.load_dataset(str(corpus), "stereo", split="train")
    ds = datasets.load_dataset(str(corpus), "stereo", split="train", streaming=True)
    assert ds.num_shards == 2
    loader = DataLoader(ds, batch_size=2, num_workers=2, collate_fn=collate_in_worker)
    batches = list(loader)
    assert {b["worker"] for b in batches} == {0, 1}  # both workers had a file
    seen = [scene for b in batches for scene in b["scene_id"]]
    assert Counter(seen) == Counter(stored["scene_id"])  # every row exactly once
    by_id = {row["scene_id"]: row for row in stored}
    for batch in batches:
        audio = batch["audio"]
        assert audio.dtype == torch.float32 and audio.shape[1:] == (2, 4000)
        assert batch["azimuth"].dtype == torch.int64
        assert batch["azimuth_deg"].dtype == torch.float32
        for i, scene in enumerate(batch["scene_id"]):
            row = by_id[scene]
            assert np.array_equal(audio[i].numpy(), audio_array(row["audio"]))
            assert batch["azimuth"][i].item() == row["azimuth"]
            assert batch["rt60_s"][i].item() == pytest.approx(row["rt60_s"], rel=1e-6)
            assert batch["caption"][i] == row["caption"]


def test_the_default_config_loads_without_a_name(corpus):
    ds = datasets.load_dataset(str(corpus), split="validation", streaming=True)
    assert {row["channel_format"] for row in ds} == {"stereo"}  # stereo before mono


def test_torch_formatted_and_undecoded_rows_collate_alike(corpus):
    ds = datasets.load_dataset(str(corpus), "mono", split="test", streaming=True)
    torch_rows = list(ds.with_format("torch"))
    raw_rows = list(ds.cast_column("audio", Audio(decode=False)))
    assert type(torch_rows[0]["audio"]).__name__ == "AudioDecoder"  # what datasets 5 gives
    assert isinstance(torch_rows[0]["azimuth"], torch.Tensor)
    batch, raw = collate(torch_rows), collate(raw_rows, columns=["azimuth", "distance_m"])
    assert batch["audio"].shape == (2, 1, 4000) and torch.equal(batch["audio"], raw["audio"])
    assert torch.equal(batch["azimuth"], raw["azimuth"])
    assert set(raw) == {"audio", "azimuth", "distance_m"}
    assert batch["sources"] == [row["sources"] for row in raw_rows]  # nested: kept as lists


def test_rows_that_cannot_be_stacked_are_refused(corpus):
    mono = next(iter(datasets.load_dataset(str(corpus), "mono", split="test", streaming=True)))
    stereo = next(iter(datasets.load_dataset(str(corpus), "stereo", split="test",
                                             streaming=True)))
    with pytest.raises(ValueError, match="one config"):
        collate([mono, stereo])
    with pytest.raises(ValueError, match="at least one row"):
        collate([])
    with pytest.raises(ValueError, match="no column 'rt60'"):
        collate([{"audio": mono["audio"]}], columns=["rt60"])
    with pytest.raises(ValueError, match="'audio' column"):
        collate([{"azimuth": 1}])
