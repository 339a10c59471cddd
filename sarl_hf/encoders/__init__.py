"""Encoders: frozen audio models behind one protocol (:class:`Encoder`).

Takes a name (:func:`load_encoder`: a packaged encoder, ``hear:MODULE``, a transformers
model id or folder) and a batch of scenes (n, channels, samples) at any rate; gives
``{layer: (n, dim)}`` float32 and a ``fingerprint()`` that changes with the weights and
every setting. The base class checks the input, resamples, applies the channel policy
(``downmix``, ``per_channel_concat``, ``channel:K``, ``native``) and refuses NaN in an
output. A new kind of encoder joins with :func:`register_encoder`.
"""

from __future__ import annotations

from .base import POLICIES, Encoder
from .registry import (ENCODERS, EncoderKind, encoder_names, load_encoder, packaged_encoders,
                       register_encoder)

__all__ = ["Encoder", "POLICIES", "ENCODERS", "EncoderKind", "load_encoder", "register_encoder",
           "encoder_names", "packaged_encoders"]
