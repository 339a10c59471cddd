"""Embeddings: a corpus embedded once per encoder, cached and verified.

Takes an encoder and a corpus folder; gives, per config and split, one parquet part per
corpus shard with every label column and one column per layer, under a folder keyed by
the encoder's and the corpus's fingerprints (:func:`embed_corpus`; under ``accelerate
launch`` the shards are shared out, :func:`embed_in_processes`), and reads them back as
``{layer: (n, dim)}`` with row-aligned labels (:func:`load_embeddings`).
"""

from .cache import cache_dir, corpus_fingerprint, load_embeddings
from .embed import EmbedReport, embed_corpus, embed_in_processes

__all__ = ["embed_corpus", "embed_in_processes", "EmbedReport", "load_embeddings",
           "cache_dir", "corpus_fingerprint"]
