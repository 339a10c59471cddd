"""Frame-level model outputs pooled into one vector per clip (transformers models, wrapped
modules): ``mean``, ``max``, ``mean+std`` or ``first`` (a CLS token)."""

from __future__ import annotations

POOLINGS = ("mean", "max", "mean+std", "first")


def check_frame_pooling(pooling: str, allowed=POOLINGS) -> str:
    """``pooling`` if it is one of ``allowed``, else ValueError listing them."""
    if pooling not in allowed:
        raise ValueError(f"pooling must be one of {tuple(allowed)}, got {pooling!r}")
    return pooling


def as_frames(hidden):
    """A model output as (batch, frames, dim): 3-D as it is, 2-D as one frame, 4-D
    (batch, channels, freq, time) as channels over freq × time frames (HTSAT's stages)."""
    if hidden.dim() == 2:
        return hidden[:, None, :]
    if hidden.dim() == 4:
        return hidden.flatten(2).transpose(1, 2)
    if hidden.dim() != 3:
        raise RuntimeError(f"cannot pool an output of shape {tuple(hidden.shape)}: expected "
                           "(batch, dim), (batch, frames, dim) or (batch, channels, freq, time)")
    return hidden


def pool_frames(frames, valid: int, pooling: str):
    """Pool the first ``valid`` frames of ``frames``.

    Parameters
    ----------
    frames : torch.Tensor, shape (batch, frames, dim)
    valid : int
        Frames that cover the clip (the rest is padding).
    pooling : str
        One of :data:`POOLINGS`.

    Returns
    -------
    torch.Tensor, shape (batch, dim), float32 (``mean+std``: (batch, 2 dim))
    """
    import torch

    frames = frames[:, :valid].float()
    if pooling == "mean":
        return frames.mean(1)
    if pooling == "max":
        return frames.amax(1)
    if pooling == "mean+std":
        return torch.cat([frames.mean(1), frames.std(1, unbiased=False)], dim=-1)
    return frames[:, 0]
