"""sarl_hf.probing.retrieval: recall both ways and the content–position test, on
constructed embeddings whose answers are known and on the tiny corpus with an oracle."""

import numpy as np
import pytest
from conftest import OracleEncoder, caption_vector

from sarl_hf.corpus.captions import swapped_caption
from sarl_hf.embeddings.embed import embed_corpus
from sarl_hf.probing.retrieval import (first_relevant_rank, retrieval_from_cache,
                                       retrieval_scores)

CAPTIONS = [f"caption {k}" for k in range(12)] + ["caption 3"]  # one caption twice
SWAPPED = [f"swapped {k}" for k in range(12)] + ["swapped 3"]


def embed(texts):
    return np.stack([caption_vector(t) for t in texts])


def test_an_oracle_scores_every_metric_perfectly_and_its_opposite_loses_the_test():
    text, swapped = embed(CAPTIONS), embed(SWAPPED)
    result = retrieval_scores(text, CAPTIONS, text, swapped, SWAPPED, n_boot=200)
    for direction in ("audio_to_text", "text_to_audio"):
        for k in (1, 5, 10):
            assert result[direction][f"recall@{k}"] == 1.0
            assert result[direction][f"recall@{k}_ci"] == [1.0, 1.0]
    assert result["audio_to_text"]["n_queries"] == 13 and result["n_captions"] == 12
    assert result["text_to_audio"]["n_queries"] == 12  # one query per distinct caption
    position = result["content_position"]
    assert (position["accuracy"], position["chance"], position["n_scenes"]) == (1.0, 0.5, 13)
    fooled = retrieval_scores(swapped, CAPTIONS, text, swapped, SWAPPED, n_boot=200)
    assert fooled["content_position"]["accuracy"] == 0.0


def test_ties_count_against_the_query_and_half_in_the_position_test():
    constant = np.ones((13, 4))
    result = retrieval_scores(constant, CAPTIONS, constant, constant, SWAPPED, n_boot=100)
    assert result["audio_to_text"]["recall@1"] == 0.0
    assert result["audio_to_text"]["recall@10"] == 0.0  # 11 wrong captions tie with it
    assert result["content_position"]["accuracy"] == 0.5
    ranks = first_relevant_rank(np.array([[0.9, 0.9, 0.1], [0.2, 0.5, 0.9]]),
                                np.array([[True, False, False], [False, True, True]]))
    assert ranks.tolist() == [1, 0]
    same = retrieval_scores(embed(CAPTIONS), CAPTIONS, embed(CAPTIONS), embed(CAPTIONS),
                            CAPTIONS, n_boot=50)
    assert same["content_position"] == {"chance": 0.5, "n_scenes": 0}  # nothing to tell


def test_a_random_model_sits_near_chance_with_an_interval_around_it():
    rng = np.random.default_rng(0)
    captions = [f"c{k}" for k in range(200)]
    result = retrieval_scores(rng.standard_normal((200, 64)), captions, embed(captions),
                              embed([c + "!" for c in captions]), [c + "!" for c in captions],
                              n_boot=500)
    low, high = result["content_position"]["accuracy_ci"]
    assert low < 0.5 < high and high - low < 0.2
    assert result["audio_to_text"]["recall@10"] < 0.2  # chance: 10 / 200


def test_swapped_captions_exchange_places_not_content():
    sources = [{"class_name": c, "azimuth_deg": a, "elevation_deg": 0.0, "distance_m": d}
               for c, a, d in (("bell", 0.0, 0.6), ("siren", 90.0, 1.0), ("drum", 180.0, 3.0))]
    labels = {"sources": sources, "rt60_s": 1.0, "volume_m3": 400.0, "shape_name": "l_shaped"}
    assert swapped_caption(labels) == ("a bell rings near to the left, a siren wails far "
                                       "behind and a drum beats close in front, in a very "
                                       "large very reverberant L-shaped hall")
    with pytest.raises(ValueError, match="at least two"):
        swapped_caption({**labels, "sources": sources[:1]})


def test_retrieval_of_an_oracle_on_the_tiny_corpus(tiny_corpus, tmp_path):
    oracle = OracleEncoder(tiny_corpus)
    folder = embed_corpus(oracle, tiny_corpus, "multisource", tmp_path, channel_format="stereo",
                          progress=False).folder
    result = retrieval_from_cache(folder, "stereo", oracle, n_boot=100)
    assert result["layer"] == "projection" and result["n_scenes"] == 5
    assert result["audio_to_text"]["recall@1"] == 1.0 == result["text_to_audio"]["recall@1"]
    assert result["content_position"]["accuracy"] == 1.0
    with pytest.raises(ValueError, match="no text tower"):
        from sarl_hf.encoders import load_encoder

        retrieval_from_cache(folder, "stereo", load_encoder("sarl-logmel"))
