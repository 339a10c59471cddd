"""Well-known audio encoders on the Hugging Face Hub, by short name.

``load_encoder("wav2vec2-base")`` (and ``sarl bench --encoders wav2vec2-base,...``) loads
``facebook/wav2vec2-base`` through :class:`~sarl_hf.encoders.hf.TransformersEncoder`,
with the training paradigm and data below in its metadata; its fingerprint is the Hub
id's, so both names share one cache. They need the Hub or its local cache: offline, a
model that was never downloaded is a one-line ``ValueError`` that says so.

Each Hub id is the one the model's own documentation uses (``docs``: where it was
confirmed): the ``transformers`` docstrings and model pages, or the Hub model card.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HubEncoder:
    """A Hub audio model behind a short name.

    Attributes
    ----------
    hub_id : str
    paradigm : str
        One of :data:`sarl_hf.encoders.metadata.PARADIGMS`.
    training_data : str
    docs : str
        Where the Hub id is documented.
    """

    hub_id: str
    paradigm: str
    training_data: str
    docs: str


#: Short name → Hub model, in the order the README's table lists them.
HUB_ENCODERS = {
    "wav2vec2-base": HubEncoder(
        "facebook/wav2vec2-base", "self-supervised masked prediction",
        "LibriSpeech 960 h, unlabelled", "transformers: Wav2Vec2ForPreTraining example"),
    "hubert-base": HubEncoder(
        "facebook/hubert-base-ls960", "self-supervised masked prediction",
        "LibriSpeech 960 h, unlabelled", "transformers: HubertConfig docstring"),
    "wavlm-base-plus": HubEncoder(
        "microsoft/wavlm-base-plus", "self-supervised masked prediction",
        "Libri-Light 60 k h, GigaSpeech 10 k h, VoxPopuli 24 k h",
        "Hub model card (microsoft/wavlm-base-plus, Microsoft's own upload)"),
    "ast-audioset": HubEncoder(
        "MIT/ast-finetuned-audioset-10-10-0.4593", "supervised",
        "AudioSet (from ImageNet-pretrained DeiT weights)", "transformers: ASTConfig docstring"),
    "clap-htsat": HubEncoder(
        "laion/clap-htsat-unfused", "contrastive audio-text", "LAION-Audio-630K",
        "transformers: ClapModel.get_text_features example"),
    "whisper-base": HubEncoder(
        "openai/whisper-base", "supervised",
        "680 k h of weakly supervised multilingual speech from the web",
        "transformers: WhisperModel.forward example"),
    "encodec-24khz": HubEncoder(
        "facebook/encodec_24khz", "codec reconstruction",
        "speech, general audio and music (the paper: DNS Challenge 4, Common Voice, AudioSet, "
        "FSD50K, Jamendo)", "transformers: EncodecConfig docstring"),
}
