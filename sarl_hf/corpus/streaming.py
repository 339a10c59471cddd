"""The corpus rendered on the fly: a config's split as a ``datasets.IterableDataset``.

:func:`stream` yields, for the same parameters, exactly the rows ``sarl generate`` stores
(no disk), sharded so that a ``DataLoader`` with several workers renders each scene once.
"""

from __future__ import annotations

from datasets import IterableDataset

from ..rendering.renderer import Renderer
from ..scene.factors import FactorConfig
from ..scene.spec import SceneSpec
from ..sources import SourceBank, as_bank
from .plan import config_specs
from .schema import corpus_features, scene_example
from .shards import chunks


def _render_examples(spec_chunks, bank, mode, sofa_path):
    """Generator behind :func:`stream`: renders its share of the chunks, in order."""
    renderer = Renderer(bank=bank, mode=mode, sofa_path=sofa_path)
    for chunk in spec_chunks:
        for spec_dict in chunk:
            yield scene_example(renderer.render(SceneSpec.from_dict(spec_dict)), bank.name)


def stream(config: str = "mono", split: str = "train", n: int = 48, seed: int = 0, *,
           factors: FactorConfig | None = None,
           bank: SourceBank | str | None = None, sample_rate: int = 16000,
           duration_s: float = 4.0, mode: str = "fast", sofa_path=None,
           num_shards: int = 16) -> IterableDataset:
    """Scenes of one config and split rendered on the fly, with the corpus's features.

    For the same parameters it yields exactly the examples, in the same order, that
    ``sarl generate`` stores in ``data/<config>/<split>-*.parquet`` (``n`` is then that
    split's size, e.g. ``split_sizes(scenes)[split]``).

    Parameters
    ----------
    config, split, n, seed, factors, sample_rate, duration_s
        As in :func:`config_specs`.
    bank : SourceBank or str, optional
        Dry clips, or a bank name (``procedural``, ``gm``, ``auto``, ``folder:PATH``)
        built with ``seed`` as ``sarl generate --sources`` does; default procedural.
    mode : str
        Renderer mode, ``fast`` or ``reference``.
    sofa_path : str, optional
        HRTF for binaural scenes.
    num_shards : int
        The scenes are cut into at most this many shards, which a ``DataLoader`` with
        several workers shares out, each scene rendered once.

    Returns
    -------
    datasets.IterableDataset
    """
    bank = as_bank(bank, seed)
    specs = config_specs(config, split, n, seed, factors, bank, sample_rate, duration_s)
    if not specs:
        raise ValueError(f"n must be >= 1, got {n}")
    if num_shards < 1:
        raise ValueError(f"num_shards must be >= 1, got {num_shards}")
    Renderer(bank=bank, mode=mode, sofa_path=sofa_path).check_memory(specs[0])  # up front
    features = corpus_features(factors, bank.classes, sample_rate)
    dicts = [spec.to_dict() for spec in specs]
    size = -(-len(dicts) // min(num_shards, len(dicts)))
    return IterableDataset.from_generator(
        _render_examples, features=features,
        gen_kwargs={"spec_chunks": chunks(dicts, size), "bank": bank, "mode": mode,
                    "sofa_path": sofa_path})
