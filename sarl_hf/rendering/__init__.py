"""Rendering: a scene spec becomes multichannel audio with exact labels.

Takes a :class:`~sarl_hf.scene.SceneSpec` and a source bank; gives a
:class:`RenderedScene`: audio (channels, samples) float32 in the spec's channel format,
and labels (nominal levels, the exact direction and distance of the direct path, RT60,
DRR and C50 measured on the rendered omni response). The fast mode renders exact image
sources for the early part and a diffuse tail decaying at the target RT60
(:mod:`.rir`); the reference mode renders the same spec with pyroomacoustics.
"""

from .renderer import MODES, RenderedScene, Renderer, direction_of, scene_labels
from .rir import fast_rir, fast_rirs, reference_rir

__all__ = ["Renderer", "RenderedScene", "MODES", "scene_labels", "direction_of", "fast_rir",
           "fast_rirs", "reference_rir"]
