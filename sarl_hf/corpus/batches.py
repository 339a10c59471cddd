"""Corpus rows as training batches: a ``collate_fn`` for a torch ``DataLoader``.

``datasets`` 5 decodes ``audio`` to a torchcodec ``AudioDecoder``, also under
``.with_format("torch")``, which torch's default collate cannot stack. :func:`collate`
stacks the samples of every row into one (batch, channels, samples) float32 tensor and
the labels into tensors::

    from torch.utils.data import DataLoader
    ds = load_dataset(folder, "binaural", split="train", streaming=True)
    loader = DataLoader(ds, batch_size=32, num_workers=8, collate_fn=collate)

A streaming split is shared out over the workers file by file (``ds.num_shards``).
"""

from __future__ import annotations

import numbers

import numpy as np

from .schema import audio_array


def collate(rows: list[dict], columns=None) -> dict:
    """A batch of corpus rows as tensors.

    Parameters
    ----------
    rows : list of dict
        Rows of one config (decoded ``AudioDecoder``, undecoded ``{"bytes": ...}`` or
        ``{"array": ...}`` audio; plain or torch-formatted labels).
    columns : sequence of str, optional
        Columns to keep besides ``audio``; default every column of the first row.

    Returns
    -------
    dict
        ``audio``: float32 tensor, shape (batch, channels, samples); integer columns
        (the factors' levels, ``num_sources``, ...) as int64 tensors, shape (batch,);
        float columns (``azimuth_deg``, ``rt60_s``, ...) as float32 tensors, shape
        (batch,); any other column (strings, ``sources``) as a list.
    """
    import torch

    if not rows:
        raise ValueError("collate needs at least one row")
    names = list(rows[0]) if columns is None else list(columns)
    batch = {"audio": torch.from_numpy(_stacked_audio(rows))}
    for name in (n for n in names if n != "audio"):
        missing = [i for i, row in enumerate(rows) if name not in row]
        if missing:
            raise ValueError(f"collate: row {missing[0]} has no column {name!r}")
        batch[name] = _column(torch, [row[name] for row in rows])
    return batch


def _stacked_audio(rows: list[dict]) -> np.ndarray:
    """(batch, channels, samples) float32 samples of every row's ``audio``."""
    if any("audio" not in row for row in rows):
        raise ValueError("collate: every row needs an 'audio' column")
    signals = [audio_array(row["audio"]) for row in rows]
    shapes = sorted({s.shape for s in signals})
    if len(shapes) > 1:
        raise ValueError(f"collate: rows of different shapes (channels, samples) {shapes} "
                         "cannot be stacked; batch rows of one config (one channel "
                         "format) and one duration")
    return np.stack(signals).astype(np.float32, copy=False)


def _column(torch, values: list):
    """One column as a tensor (numbers, 0-d tensors) or as the list it is."""
    values = [v.item() if hasattr(v, "ndim") and v.ndim == 0 else v for v in values]
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return torch.tensor(values, dtype=torch.bool)
    if all(isinstance(v, numbers.Integral) for v in values):
        return torch.tensor(values, dtype=torch.int64)
    if all(isinstance(v, numbers.Real) for v in values):
        return torch.tensor(values, dtype=torch.float32)
    return values
