"""Acoustics: the physics a scene is rendered with, none of it tied to a scene spec.

Takes room geometry (prism rooms: a floor polygon and a height), source and listener
positions, and directions; gives Eyring absorption for a target RT60 (:mod:`.rooms`),
the image sources of a floor polygon (:mod:`.ism`), channel formats that turn arriving
sound into channels and know their diffuse-field coherence (:mod:`.formats`, with the
HRTF of :mod:`.hrtf`), and the measures a label is made of: RT60 by Schroeder
integration, DRR and C50 (:mod:`.measure`).

To add a channel format: subclass :class:`ChannelFormat` (``early_response`` and
``diffuse_covariance``) and :func:`register_format` a factory for it; every stage that
takes a format name then accepts it.
"""

from .directions import fibonacci_sphere, unit_vector
from .formats import (CHANNEL_FORMATS, FORMATS, Ambisonics, Binaural, CapsuleArray, ChannelFormat,
                      check_format, check_formats, format_names, make_format, register_format)
from .hrtf import HRTFSet, default_sofa_path
from .ism import image_sources
from .measure import clarity_db, drr_db, rt60_s
from .rooms import SHAPES, SPEED_OF_SOUND_M_S, eyring_absorption, floor_polygon

__all__ = ["SPEED_OF_SOUND_M_S", "SHAPES", "eyring_absorption", "floor_polygon",
           "unit_vector", "fibonacci_sphere", "ChannelFormat", "CapsuleArray", "Ambisonics",
           "Binaural", "CHANNEL_FORMATS", "FORMATS", "register_format", "format_names",
           "check_format", "check_formats", "make_format", "HRTFSet", "default_sofa_path",
           "image_sources", "rt60_s", "drr_db", "clarity_db"]
