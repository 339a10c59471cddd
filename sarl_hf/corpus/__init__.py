"""Corpus: the benchmark's scenes as a Hugging Face dataset.

Takes a :class:`CorpusPlan` (every parameter that decides the bytes) and a source bank;
gives a hub-ready folder (:func:`generate`: parquet shards per config and split, a dataset
card, a manifest of checksums; resumable, parallel, sliceable over machines) that
``datasets.load_dataset(folder, config)`` reads, or the same rows rendered on the fly
(:func:`stream`). Configs: one per channel format, ``multisource`` and ``sensitivity``;
every config has the same columns (:func:`corpus_features`). :func:`publish` uploads a
finished folder; :func:`render_wav_folder` writes plain WAV + JSON files instead.

To add a config: its specs in :func:`~sarl_hf.corpus.plan.config_specs`, its name in
``plan.SPECIAL_CONFIGS`` and its row count in ``CorpusPlan.split_size``.
"""

from .captions import caption
from .card import dataset_card
from .generation import GenerateReport, generate
from .plan import CorpusPlan, config_names, config_specs, split_sizes
from .schema import EXACT_COLUMNS, audio_array, corpus_features, scene_example
from .streaming import stream
from .summary import corpus_summary
from .integrity import corpus_problems, open_shard, read_manifest, verify_corpus
from .upload import publish
from .wav_folder import render_wav_folder

__all__ = ["CorpusPlan", "config_names", "config_specs", "split_sizes", "generate",
           "GenerateReport", "stream", "corpus_features", "EXACT_COLUMNS", "audio_array",
           "scene_example", "dataset_card", "caption", "corpus_summary", "publish",
           "verify_corpus", "corpus_problems", "read_manifest", "open_shard",
           "render_wav_folder"]
