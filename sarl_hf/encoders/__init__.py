"""Encoders: frozen audio models behind one protocol (:class:`Encoder`).

Takes a name (:func:`load_encoder`: a packaged encoder, ``hear:MODULE``, a Hub short name,
a plugin's name, a transformers model id or folder) or any PyTorch module
(:class:`ModuleEncoder`), and a batch of scenes (n, channels, samples) at any rate; gives
``{layer: (n, dim)}`` float32, a ``fingerprint()`` that changes with the weights and every
setting, and ``metadata()`` (family, input configuration, training paradigm, source). The
base class checks the input, resamples, applies the channel policy (``downmix``,
``per_channel_concat``, ``channel:K``, ``native``) and refuses NaN in an output. A new kind
of encoder joins with :func:`register_encoder`, or from an installed package through the
entry-point group ``sarl_hf.encoders``.
"""

from __future__ import annotations

from .base import POLICIES, Encoder
from .hub import HUB_ENCODERS
from .metadata import PARADIGMS
from .registry import (ENCODERS, ENTRY_POINT_GROUP, EncoderKind, encoder_names, load_encoder,
                       packaged_encoders, register_encoder)
from .wrapped import ModuleEncoder

__all__ = ["Encoder", "ModuleEncoder", "POLICIES", "PARADIGMS", "ENCODERS", "EncoderKind",
           "ENTRY_POINT_GROUP", "HUB_ENCODERS", "load_encoder", "register_encoder",
           "encoder_names", "packaged_encoders"]
