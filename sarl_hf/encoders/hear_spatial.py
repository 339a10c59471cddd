"""``sarl-spatial`` as a multichannel HEAR module in GRAM's convention: the model declares
``in_channels`` and the functions take audio (n, channels, samples).

``load_model(model_file_path="", in_channels=2, layout=None)``: two channels (binaural or
a spaced pair) by default; ``in_channels=4, layout="foa"`` for first-order ambisonics
(W, Y, Z, X); ``model_file_path`` a folder saved from ``sarl-spatial``. Scene embeddings
are its ``all`` layer (every spatial feature of the layout), timestamp embeddings the
same layer of a 250-ms window around every 50-ms timestamp. SARL's own HEAR adapter
reads it back natively: ``load_encoder("hear:sarl_hf.encoders.hear_spatial")``.

>>> import torch
>>> from sarl_hf.encoders import hear_spatial
>>> model = hear_spatial.load_model()
>>> model.in_channels, model.sample_rate
(2, 16000)
>>> hear_spatial.get_scene_embeddings(torch.zeros(3, 2, 8000), model).shape[0]
3
"""

from __future__ import annotations

from .hear_api import HEARModel, scene_embeddings, timestamp_embeddings
from .reference import SpatialEncoder


def load_model(model_file_path: str = "", in_channels: int = 2,
               layout: str | None = None) -> HEARModel:
    """The HEAR model for scenes of ``in_channels`` channels (``layout="foa"``: 4)."""
    encoder = SpatialEncoder(model_file_path or None, layout=layout)
    model = HEARModel(encoder, "all", in_channels=int(in_channels))
    model.channel_layout = "foa" if encoder.layout == "foa" else "any"
    return model


def get_scene_embeddings(audio, model: HEARModel):
    """(n, in_channels, samples) at 16 kHz → (n, dim) float32."""
    return scene_embeddings(audio, model)


def get_timestamp_embeddings(audio, model: HEARModel):
    """(n, in_channels, samples) at 16 kHz → ((n, timestamps, dim), (n, timestamps) ms)."""
    return timestamp_embeddings(audio, model)
