"""Corpus: the benchmark's scenes as a Hugging Face dataset.

Takes a :class:`CorpusPlan` (every parameter that decides the bytes) and a source bank;
gives a hub-ready folder (:func:`generate`: parquet shards per config and split, a dataset
card, a manifest of checksums; resumable, parallel, sliceable over machines) that
``datasets.load_dataset(folder, config)`` reads, or the same rows rendered on the fly
(:func:`stream`). Configs hold one channel format each: one per format, and per format
``multisource_<format>`` and ``sensitivity_<format>``; every config has the same columns
(:func:`corpus_features`). :func:`collate` batches rows for a torch ``DataLoader``;
:mod:`.sizing` cuts each split into files. :func:`publish` uploads a finished folder;
:func:`render_wav_folder` writes plain WAV + JSON files instead.

To add a kind of config: its specs in :func:`~sarl_hf.corpus.plan.config_specs`, its name
in ``plan.SPECIAL_CONFIGS`` and its row count in ``CorpusPlan.split_size``.
"""

from .batches import collate
from .captions import caption
from .card import dataset_card
from .generation import GenerateReport, generate
from .plan import CorpusPlan, config_names, config_specs, split_sizes, stored_config
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
           "render_wav_folder", "collate", "stored_config"]
