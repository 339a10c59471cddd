"""Spatial audio–text retrieval (Spatial-CLAP's evaluation) for audio–text encoders.

On the multisource scenes and their captions, with cosine similarity between an
encoder's audio embedding (its ``text_layer``) and its text embedding of a caption:

- **audio → text**: for each scene, the rank of its caption among the distinct captions;
  **text → audio**: for each distinct caption, the best rank of a scene it describes.
  Recall@k (k = 1, 5, 10) is the share of queries answered within the first k; a tie
  with a wrong item counts against the query (a constant model scores 0, not 100%).
- **content–position test**: for each scene, the caption with its sources' places
  exchanged (:func:`sarl_hf.corpus.captions.swapped_caption`) is a hard negative: it
  names the same sounds and room. The score is the share of scenes whose true caption is
  closer to the audio than the swapped one (a tie counts half; chance 50%); scenes whose
  swapped caption reads the same (sources in places the caption does not tell apart) are
  left out.

Every share comes with a bootstrap 95% interval over queries (fixed seed). The models are
zero-shot, so every split's scenes are scored.
"""

from __future__ import annotations

import numpy as np

from ..corpus.captions import caption, labels_from_row, swapped_caption
from ..embeddings.cache import load_embeddings
from ..splits import SPLITS
from .protocol import percentile_interval, resamples

KS = (1, 5, 10)


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` (n, dim) scaled to unit length (a zero row stays zero), float64."""
    x = np.asarray(x, np.float64)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norm > 0, norm, 1.0)


def cosine_similarity(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Cosine similarity of every row of ``first`` (n, dim) with every row of ``second``
    (m, dim): (n, m) float64 (a zero row gives 0)."""
    return unit_rows(first) @ unit_rows(second).T


def first_relevant_rank(similarity: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """Rank (0 = first) of the best relevant item of each query; ties count against it.

    Parameters
    ----------
    similarity : ndarray, shape (queries, items)
    relevant : ndarray of bool, shape (queries, items)
        At least one True per row.

    Returns
    -------
    ndarray of int, shape (queries,)
        The number of irrelevant items scoring at least as high as the best relevant one.
    """
    if not relevant.any(axis=1).all():
        raise ValueError("every query needs at least one relevant item")
    best = np.where(relevant, similarity, -np.inf).max(axis=1, keepdims=True)
    return ((similarity >= best) & ~relevant).sum(axis=1)


def share_with_interval(values: np.ndarray, n_boot: int, seed: int) -> tuple[float, list]:
    """Mean of per-query scores (queries,) and its bootstrap 95% interval."""
    values = np.asarray(values, np.float64)
    index = resamples(len(values), n_boot, seed)
    return float(values.mean()), percentile_interval(values[index].mean(axis=1))


def recall_metrics(ranks: np.ndarray, n_boot: int, seed: int, ks=KS) -> dict:
    """``recall@k`` and ``recall@k_ci`` for every k, and ``n_queries``."""
    out = {"n_queries": int(len(ranks))}
    for k in ks:
        out[f"recall@{k}"], out[f"recall@{k}_ci"] = share_with_interval(ranks < k, n_boot, seed)
    return out


def retrieval_scores(audio: np.ndarray, captions, text: np.ndarray, swapped: np.ndarray,
                     swapped_captions, n_boot: int = 1000, seed: int = 0) -> dict:
    """Recall both ways and the content–position test.

    Parameters
    ----------
    audio : ndarray, shape (n, dim)
        Audio embeddings of the scenes, in the shared audio–text space.
    captions : sequence of str, length n
        Each scene's caption.
    text : ndarray, shape (n, dim)
        Text embedding of each scene's caption (rows of one caption are equal).
    swapped : ndarray, shape (n, dim)
        Text embedding of each scene's caption with its sources' places exchanged.
    swapped_captions : sequence of str, length n
    n_boot, seed : int
        Bootstrap resamples and their seed.

    Returns
    -------
    dict
        ``audio_to_text`` and ``text_to_audio`` (:func:`recall_metrics`),
        ``content_position`` (``accuracy``, ``accuracy_ci``, ``chance`` 0.5, ``n_scenes``),
        ``n_scenes``, ``n_captions``.
    """
    captions = list(captions)
    distinct, first = np.unique(captions, return_index=True)
    owner = np.searchsorted(distinct, captions)
    relevant = owner[:, None] == np.arange(len(distinct))[None]  # (scenes, distinct captions)
    similarity = cosine_similarity(audio, text[first])
    audio_to_text = recall_metrics(first_relevant_rank(similarity, relevant), n_boot, seed)
    text_to_audio = recall_metrics(first_relevant_rank(similarity.T, relevant.T), n_boot,
                                   seed)
    differs = np.array([a != b for a, b in zip(captions, swapped_captions)])
    true_score = np.einsum("ij,ij->i", unit_rows(audio), unit_rows(text))
    swapped_score = np.einsum("ij,ij->i", unit_rows(audio), unit_rows(swapped))
    wins = np.where(true_score > swapped_score, 1.0, np.where(true_score == swapped_score,
                                                              0.5, 0.0))[differs]
    position = {"chance": 0.5, "n_scenes": int(differs.sum())}
    if differs.any():
        position["accuracy"], position["accuracy_ci"] = share_with_interval(wins, n_boot, seed)
    return {"audio_to_text": audio_to_text, "text_to_audio": text_to_audio,
            "content_position": position, "n_scenes": len(captions),
            "n_captions": len(distinct)}


def retrieval_from_cache(folder, channel_format: str, encoder, n_boot: int = 1000,
                         seed: int = 0, splits=SPLITS) -> dict:
    """:func:`retrieval_scores` of an audio–text encoder on the multisource scenes of an
    embeddings cache (every split), with its text tower embedding the captions.

    Parameters
    ----------
    folder : str or Path
        The encoder's cache folder (``embed_corpus(...).folder``) of the corpus.
    channel_format : str
        The format of the multisource scenes embedded.
    encoder : Encoder
        With ``text_layer`` (the audio layer in the shared space) and ``embed_text``.
    n_boot, seed : int
    splits : sequence of str

    Returns
    -------
    dict
        :func:`retrieval_scores`, with ``layer`` (the audio layer used).
    """
    layer = encoder.text_layer
    if layer is None:
        raise ValueError(f"{encoder.name} has no text tower (text_layer is None)")
    audio, captions, swapped = [], [], []
    for split in splits:
        layers, table = load_embeddings(folder, "multisource", split, layer=layer,
                                        channel_format=channel_format)
        audio.append(layers[layer])
        for row in table.select(["sources", "rt60_s", "volume_m3", "spec",
                                 "caption"]).to_pylist():
            labels = labels_from_row(row)
            if caption(labels) != row["caption"]:
                raise ValueError(f"scene {row['spec'][:60]}...: its caption {row['caption']!r} "
                                 "was written by other caption rules than this package's, so "
                                 "its swapped caption would not be comparable; regenerate the "
                                 "corpus")
            captions.append(row["caption"])
            swapped.append(swapped_caption(labels))
    texts = sorted(set(captions) | set(swapped))
    embedded = dict(zip(texts, encoder.embed_text(texts)))
    result = retrieval_scores(np.concatenate(audio), captions,
                              np.stack([embedded[c] for c in captions]),
                              np.stack([embedded[c] for c in swapped]), swapped,
                              n_boot=n_boot, seed=seed)
    return {"layer": layer, **result}
