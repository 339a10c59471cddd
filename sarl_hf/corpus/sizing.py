"""How many parquet files a config's split is cut into, from the bytes a row will take.

Two limits hold for every split: no file is larger than ``datasets``' own shard size
(``datasets.config.MAX_SHARD_SIZE``, 500 MB), and a split has at least
``plan.shards_per_split`` files (8 by default; fewer only when it has fewer rows), since a
streaming ``DataLoader`` gives each worker whole files: a split of one file feeds one
worker. Rows are spread evenly over the files (their sizes differ by one row at most).
"""

from __future__ import annotations

from datasets import config as datasets_config
from datasets.utils.py_utils import convert_file_size_to_int

from ..acoustics.formats import make_format
from .plan import CorpusPlan, parse_config

#: Largest data file, bytes: ``datasets``' shard size (what ``push_to_hub`` writes).
MAX_SHARD_BYTES = convert_file_size_to_int(datasets_config.MAX_SHARD_SIZE)
#: Bytes of a float32 WAV file besides its samples (RIFF, fmt with extension, fact, data).
WAV_HEADER_BYTES = 58
#: Bytes of a row besides its audio, at most: labels, sources, caption and the spec as
#: JSON are under 3 kB (3 sources); the rest is room for parquet's page headers.
ROW_LABEL_BYTES = 8192
#: Bytes of a data file besides its rows, at most: the footer (schema, ``datasets``'
#: features, row-group metadata) is about 20 kB.
FILE_OVERHEAD_BYTES = 65536


def row_bytes(num_channels: int, num_samples: int) -> int:
    """Bytes a corpus row takes in a data file, at most: its float32 WAV and its labels.

    Parameters
    ----------
    num_channels : int
    num_samples : int
        Samples per channel.
    """
    return 4 * num_channels * num_samples + WAV_HEADER_BYTES + ROW_LABEL_BYTES


def plan_row_bytes(plan: CorpusPlan, config: str) -> int:
    """:func:`row_bytes` of a row of one of ``plan``'s configs."""
    _, fmt = parse_config(config)
    channels = make_format(fmt, sofa_path=plan.sofa_path).num_channels
    return row_bytes(channels, int(round(plan.duration_s * plan.sample_rate)))


def file_bytes(rows: int, bytes_per_row: int) -> int:
    """Bytes a data file of ``rows`` rows of ``bytes_per_row`` takes, at most."""
    return rows * bytes_per_row + FILE_OVERHEAD_BYTES


def shard_count(rows: int, bytes_per_row: int, max_rows: int, min_files: int,
                max_bytes: int = MAX_SHARD_BYTES) -> int:
    """Files a split of ``rows`` rows is cut into (rows spread evenly, :func:`shard_bounds`).

    The fewest files such that none holds more than ``max_rows`` rows or more than
    ``max_bytes`` bytes (:func:`file_bytes`), and at least ``min_files`` (or ``rows``,
    when fewer).

    >>> shard_count(3000, 1_032_250, max_rows=500, min_files=8)
    8
    >>> shard_count(10, 1000, max_rows=4, min_files=1)
    3
    """
    if rows < 1:
        return 0
    check_row_bytes(bytes_per_row, max_bytes)
    per_file = min(max_rows, (max_bytes - FILE_OVERHEAD_BYTES) // bytes_per_row)
    return min(rows, max(min_files, -(-rows // per_file)))


def check_row_bytes(bytes_per_row: int, max_bytes: int = MAX_SHARD_BYTES) -> None:
    """Refuse rows too large for a data file of ``max_bytes`` (with its footer)."""
    if file_bytes(1, bytes_per_row) > max_bytes:
        raise ValueError(f"one row takes {bytes_per_row} bytes, more than a data file may "
                         f"hold ({max_bytes}); shorten the scenes or lower the sample rate")


def check_plan_rows(plan: CorpusPlan) -> None:
    """Refuse, before any work, a plan whose rows do not fit in a data file."""
    for config in plan.configs():
        check_row_bytes(plan_row_bytes(plan, config))


def shard_bounds(rows: int, count: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of each of ``count`` files holding ``rows`` rows, evenly spread.

    >>> shard_bounds(10, 3)
    [(0, 3), (3, 6), (6, 10)]
    """
    return [(k * rows // count, (k + 1) * rows // count) for k in range(count)]


def plan_shard_count(plan: CorpusPlan, config: str, rows: int) -> int:
    """:func:`shard_count` of a split of ``rows`` rows of one of ``plan``'s configs."""
    return shard_count(rows, plan_row_bytes(plan, config), plan.scenes_per_shard,
                       plan.shards_per_split)
