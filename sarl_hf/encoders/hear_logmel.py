"""``sarl-logmel`` as a HEAR 2021 module (mono, 16 kHz): ``hear-validator
sarl_hf.encoders.hear_logmel`` passes, and any HEAR tool can load it.

Scene embeddings are the ``all`` layer of each clip (log-mel mean, standard deviation and
delta standard deviation: 3 × 64 = 192); timestamp embeddings the same layer of a 250-ms
window around every 50-ms timestamp (:mod:`sarl_hf.encoders.hear_api`).

>>> import torch
>>> from sarl_hf.encoders import hear_logmel
>>> model = hear_logmel.load_model()
>>> model.sample_rate, model.scene_embedding_size
(16000, 192)
>>> hear_logmel.get_scene_embeddings(torch.zeros(2, 16000), model).shape
torch.Size([2, 192])
"""

from __future__ import annotations

from .hear_api import HEARModel, scene_embeddings, timestamp_embeddings
from .reference import LogMelEncoder


def load_model(model_file_path: str = "") -> HEARModel:
    """The HEAR model: ``sarl-logmel`` with the default config, or the one saved in the
    folder ``model_file_path`` (``save_pretrained``)."""
    return HEARModel(LogMelEncoder(model_file_path or None), "all")


def get_scene_embeddings(audio, model: HEARModel):
    """(n, samples) at 16 kHz → (n, 192) float32."""
    return scene_embeddings(audio, model)


def get_timestamp_embeddings(audio, model: HEARModel):
    """(n, samples) at 16 kHz → ((n, timestamps, 192), (n, timestamps) in ms)."""
    return timestamp_embeddings(audio, model)
