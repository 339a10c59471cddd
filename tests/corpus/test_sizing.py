"""Shard sizes: every split of the published corpus in at least 8 files of at most 500 MB,
computed from the bytes a row takes; the estimate bounds what the writer really writes."""

from __future__ import annotations

import json
import sys

import pytest
from conftest import REPO, TINY_PLAN

from sarl_hf import cli
from sarl_hf.corpus.plan import CorpusPlan, parse_config
from sarl_hf.corpus.shards import shard_jobs
from sarl_hf.corpus.sizing import (MAX_SHARD_BYTES, file_bytes, plan_row_bytes,
                                   plan_shard_count, shard_bounds, shard_count)
from sarl_hf.scene.factors import FactorConfig
from sarl_hf.sources import ProceduralBank, as_bank
from sarl_hf.splits import SPLITS


def published_plan() -> tuple[CorpusPlan, list]:
    """The plan ``dataset_scripts/generate_sarl.py`` generates, and its bank's classes."""
    sys.path.insert(0, str(REPO / "dataset_scripts"))
    try:
        from generate_sarl import PUBLISHED
    finally:
        sys.path.pop(0)
    args = cli.build_parser().parse_args(["generate", "--out", "x"] + PUBLISHED)
    plan = CorpusPlan(scenes=args.scenes, formats=tuple(args.formats), seed=args.seed,
                      sample_rate=args.sample_rate, duration_s=args.duration,
                      multisource_scenes=args.multisource_scenes,
                      sensitivity_anchors=args.sensitivity_anchors,
                      scenes_per_shard=args.scenes_per_shard,
                      shards_per_split=args.shards_per_split, mode=args.mode)
    return plan, list(as_bank(args.sources, args.seed).classes)


def split_rows(plan: CorpusPlan, classes, config: str, split: str) -> int:
    """Rows of a split, by arithmetic: scenes, or anchors times their variants."""
    size = plan.split_size(config, split)
    if parse_config(config)[0] == "sensitivity":
        size *= sum(FactorConfig.from_dict(plan.factors).level_counts(tuple(classes)).values())
    return size


def test_split_rows_counts_what_the_design_makes():
    bank = ProceduralBank(seed=TINY_PLAN.seed)
    _, specs = shard_jobs(TINY_PLAN, bank)
    assert {key: len(found) for key, found in specs.items()} == {
        (c, s): split_rows(TINY_PLAN, bank.classes, c, s) for c in TINY_PLAN.configs()
        for s in SPLITS if split_rows(TINY_PLAN, bank.classes, c, s)}


def test_every_split_of_the_published_corpus_has_8_files_under_500_mb():
    plan, classes = published_plan()
    assert MAX_SHARD_BYTES == 500 * 10**6  # datasets' own limit
    largest = {}
    for config in plan.configs():
        for split in SPLITS:
            rows = split_rows(plan, classes, config, split)
            if not rows:
                continue
            count = plan_shard_count(plan, config, rows)
            per_file = [stop - start for start, stop in shard_bounds(rows, count)]
            assert count >= 8 and sum(per_file) == rows, (config, split)
            largest[config, split] = file_bytes(max(per_file), plan_row_bytes(plan, config))
            assert largest[config, split] <= MAX_SHARD_BYTES, (config, split)
    assert len(largest) == 5 * (3 + 3 + 1)  # every format, split and kind is checked
    # what the old rule (500 rows per file, no size limit) would have written: over 500 MB
    assert file_bytes(500, plan_row_bytes(plan, "foa")) > MAX_SHARD_BYTES
    assert max(largest.values()) > 0.6 * MAX_SHARD_BYTES  # and not needlessly small


def test_the_estimate_bounds_the_files_written(tiny_corpus):
    manifest = json.loads((tiny_corpus / "manifest.json").read_text())
    plan = CorpusPlan.from_dict(manifest["plan"])
    for record in manifest["files"]:
        row = plan_row_bytes(plan, record["config"])
        assert record["num_bytes"] <= file_bytes(record["num_rows"], row), record["path"]
        audio = 4 * int(plan.duration_s * plan.sample_rate) * (
            1 if record["config"].endswith("mono") else 2)
        assert record["num_bytes"] >= 0.5 * record["num_rows"] * audio  # a close bound


def test_shard_count_limits():
    assert shard_count(0, 100, 10, 8) == 0
    assert shard_count(5, 100, 10, 8) == 5  # a file per row when rows are few
    assert shard_count(100, 100, 10, 8) == 10  # max_rows
    assert shard_count(100, 100, 100, 1, max_bytes=file_bytes(25, 100)) == 4  # max_bytes
    assert shard_count(10**6, 1, 10**9, 3) == 3
    with pytest.raises(ValueError, match="more than a data file may hold"):
        shard_count(1, MAX_SHARD_BYTES, 10, 1)


@pytest.mark.parametrize("rows, count", [(10, 3), (7, 7), (3000, 8), (1, 1), (101, 8)])
def test_shard_bounds_cover_every_row_once_evenly(rows, count):
    bounds = shard_bounds(rows, count)
    assert len(bounds) == count and bounds[0][0] == 0 and bounds[-1][1] == rows
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    sizes = [stop - start for start, stop in bounds]
    assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1
