"""sarl_hf: how much spatial information do frozen audio encoders keep?

The benchmark as a pipeline of stages, each a package with a small public face:

- :mod:`sarl_hf.sources`: dry source clips by class and split (banks);
- :mod:`sarl_hf.acoustics`: rooms, channel formats, HRTFs, image sources, measures;
- :mod:`sarl_hf.scene`: the seven factors, scene specs, balanced and one-factor designs;
- :mod:`sarl_hf.rendering`: a spec rendered to multichannel audio with exact labels;
- :mod:`sarl_hf.corpus`: the corpus as a Hugging Face dataset (plan, shards, card, stream);
- :mod:`sarl_hf.encoders`: frozen audio encoders behind one protocol;
- :mod:`sarl_hf.embeddings`: the fingerprinted embeddings cache;
- :mod:`sarl_hf.probing`: the seven tasks, the linear-probe protocol, sensitivity;
- :mod:`sarl_hf.results`: ``sarl bench``, the report and the explorer's logic.

The main entry points are importable from here; each loads its stage on first use, so
``import sarl_hf`` pulls in neither torch nor ``datasets``.

>>> from sarl_hf import design, Renderer
>>> specs = design(16, split="train", seed=0)
>>> scene = Renderer().render(specs[0].with_format("foa"))
>>> scene.audio.shape
(4, 64000)
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: Public name → the module that defines it.
_EXPORTS = {
    "FACTORS": "sarl_hf.scene.factors",
    "FactorConfig": "sarl_hf.scene.factors",
    "SceneSpec": "sarl_hf.scene.spec",
    "RoomSpec": "sarl_hf.scene.spec",
    "ListenerSpec": "sarl_hf.scene.spec",
    "SourceSpec": "sarl_hf.scene.spec",
    "design": "sarl_hf.scene.balanced",
    "sensitivity_design": "sarl_hf.scene.variants",
    "FORMATS": "sarl_hf.acoustics.formats",
    "make_format": "sarl_hf.acoustics.formats",
    "register_format": "sarl_hf.acoustics.formats",
    "Renderer": "sarl_hf.rendering.renderer",
    "RenderedScene": "sarl_hf.rendering.renderer",
    "SourceBank": "sarl_hf.sources",
    "ProceduralBank": "sarl_hf.sources",
    "GMBank": "sarl_hf.sources",
    "FolderBank": "sarl_hf.sources",
    "DatasetBank": "sarl_hf.sources",
    "register_bank": "sarl_hf.sources",
    "CorpusPlan": "sarl_hf.corpus.plan",
    "generate": "sarl_hf.corpus.generation",
    "stream": "sarl_hf.corpus.streaming",
    "audio_array": "sarl_hf.corpus.schema",
    "collate": "sarl_hf.corpus.batches",
    "load_encoder": "sarl_hf.encoders.registry",
    "register_encoder": "sarl_hf.encoders.registry",
    "Encoder": "sarl_hf.encoders.base",
    "embed_corpus": "sarl_hf.embeddings.embed",
    "load_embeddings": "sarl_hf.embeddings.cache",
    "TASKS": "sarl_hf.probing.tasks",
    "probe": "sarl_hf.probing.protocol",
    "probe_multisource": "sarl_hf.probing.multisource",
    "sensitivity": "sarl_hf.probing.sensitivity_analysis",
    "run_bench": "sarl_hf.results.bench",
    "write_report": "sarl_hf.results.report",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'sarl_hf' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
