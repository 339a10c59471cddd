"""Any ``transformers`` audio model as an SARL encoder: every hidden layer, pooled.

Supported families (by ``config.model_type``):

- raw-waveform encoders: wav2vec2, wav2vec2-conformer, HuBERT, WavLM, data2vec-audio,
  UniSpeech(-SAT), SEW(-D): ``input_values``; frames pooled over the clip's own frames;
- spectrogram transformers: AST (``input_values``, fixed 1024 frames; the first token is
  its CLS token) and the Whisper encoder (``input_features`` padded to 30 s by design:
  only the frames that cover the clip are pooled);
- CLAP (``ClapModel`` / ``ClapAudioModel``): the audio encoder's hidden states pooled,
  its pooled output and the projected audio embedding. CLAP's feature extractor repeats
  clips shorter than 10 s and crops longer ones at a random offset (its own behaviour):
  keep scenes ≤ 10 s for deterministic embeddings. A full ``ClapModel`` with its
  tokenizer also offers its text tower (``embed_text``, matched by ``projection``);
- neural codecs (``EncodecModel``, ``DacModel``): the encoder's blocks and latents
  (:mod:`.hf_codec`);
- any other model, in particular one with its own modelling code (``trust_remote_code``,
  off unless asked): every hidden state, or the outputs it returns, named
  (:mod:`.hf_remote`).

Batches group signals of equal length, so padding never enters a model (SARL scenes all
have the same length, so the batches are full); where a family pads by design (Whisper),
pooling covers only the clip's frames. A clip's embedding therefore does not depend on
the rest of its batch.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..files import files_digest
from .base import Encoder
from .hf_codec import CODEC_TYPES, codec_channels, codec_layers
from .hf_remote import (check_remote_code, config_sample_rate, describe_outputs, model_inputs,
                        output_layers, uses_remote_code)
from .metadata import package_source, parameter_count
from .pooling import POOLINGS, check_frame_pooling, pool_frames

WAVEFORM_TYPES = ("wav2vec2", "wav2vec2-conformer", "hubert", "wavlm", "data2vec-audio",
                  "unispeech", "unispeech-sat", "sew", "sew-d", "wav2vec2-bert")
SPECTROGRAM_TYPES = ("audio-spectrogram-transformer", "whisper")
CLAP_TYPES = ("clap", "clap_audio_model")
KNOWN_TYPES = WAVEFORM_TYPES + SPECTROGRAM_TYPES + CLAP_TYPES + CODEC_TYPES
DTYPES = ("float32", "float16", "bfloat16")
WHISPER_SAMPLES_PER_FRAME = 320  # 10 ms hop, then stride 2 in the encoder, at 16 kHz
#: Training paradigm of each known family (the pretrained checkpoints' own).
PARADIGM_OF_TYPE = {**{t: "self-supervised masked prediction" for t in WAVEFORM_TYPES},
                    "audio-spectrogram-transformer": "supervised", "whisper": "supervised",
                    **{t: "contrastive audio-text" for t in CLAP_TYPES},
                    **{t: "codec reconstruction" for t in CODEC_TYPES}}
__all__ = ["TransformersEncoder", "POOLINGS", "KNOWN_TYPES"]


def _weights_digest(model_id: str, revision: str | None, suffixes=(".safetensors", ".bin",
                                                                    ".json")) -> str:
    """The revision for a Hub id, or a digest of a local folder's files with ``suffixes``."""
    folder = Path(model_id)
    if not folder.is_dir():
        return revision or "main"
    files = [p for p in sorted(folder.glob("*")) if p.suffix in suffixes]
    return files_digest(files, folder)[:16]


def load_failure(model_id: str, err: Exception) -> ValueError:
    """The one-line error for a model that neither a folder nor the Hub can provide."""
    from huggingface_hub import constants

    if constants.is_offline_mode():
        return ValueError(f"cannot load {model_id!r}: it is not a local folder nor in the "
                          "local model cache, and the Hugging Face Hub is unreachable "
                          "(offline mode, HF_HUB_OFFLINE=1)")
    first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
    return ValueError(f"cannot load {model_id!r}: not a local folder, and the Hub cannot "
                      f"provide it (offline, or no such model): {first}")


def _raw_config(model_id: str, revision: str | None) -> dict:
    """``config.json`` as a dict, read without running any code."""
    from transformers import PreTrainedConfig

    try:
        return PreTrainedConfig.get_config_dict(model_id, revision=revision)[0]
    except OSError as err:
        raise load_failure(model_id, err) from err


class TransformersEncoder(Encoder):
    """A ``transformers`` audio model, frozen, with its feature extractor.

    Parameters
    ----------
    model_id : str
        Hub id (e.g. ``facebook/wav2vec2-base``) or local folder.
    pooling : str
        ``mean``, ``max``, ``mean+std`` or ``first`` (first token: AST's CLS).
    channel_policy : str, optional
        ``downmix`` (the default for single-channel models), ``per_channel_concat`` or
        ``channel:K``; ``native`` (the default) for a stereo codec.
    device : str
        Torch device, e.g. ``cpu``, ``cuda``.
    dtype : str, optional
        ``float32`` (default), ``float16`` or ``bfloat16``.
    batch_size : int
        Signals per forward pass.
    revision : str, optional
        Hub revision.
    trust_remote_code : bool
        Run the modelling code of the model's repository (``auto_map``); off unless asked:
        a model that needs it is then an ``ArgumentRequired`` error that says so.
    allow_tf32 : bool
        See :class:`~sarl_hf.encoders.base.Encoder`.
    """

    #: The waveform models' feature encoders span 400 samples at 16 kHz.
    min_clip_s = 0.025

    def __init__(self, model_id: str, pooling: str = "mean", channel_policy: str | None = None,
                 device: str = "cpu", dtype: str | None = None, batch_size: int = 16,
                 revision: str | None = None, trust_remote_code: bool = False,
                 allow_tf32: bool = False):
        import torch
        from transformers import AutoConfig, AutoModel
        from transformers.models.auto.configuration_auto import CONFIG_MAPPING

        if dtype not in DTYPES + (None,):
            raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        check_frame_pooling(pooling)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        raw = _raw_config(str(model_id), revision)
        check_remote_code(str(model_id), raw, trust_remote_code, CONFIG_MAPPING)
        self.remote_code = bool(trust_remote_code and uses_remote_code(raw))
        kwargs = dict(revision=revision, trust_remote_code=trust_remote_code)
        config = AutoConfig.from_pretrained(model_id, **kwargs)
        self.model_type = config.model_type
        if self.model_type not in KNOWN_TYPES and not self.remote_code:
            raise ValueError(f"{model_id!r} is a {self.model_type!r} model, not an audio "
                             f"encoder this wrapper knows: {KNOWN_TYPES}")
        if pooling == "first" and self.model_type != "audio-spectrogram-transformer":
            raise ValueError(f"pooling 'first' needs a model with a CLS token (AST), not "
                             f"{self.model_type!r}")
        self.model_id, self.pooling, self.batch_size = str(model_id), pooling, batch_size
        self.revision = _weights_digest(str(model_id), revision)
        self.commit = getattr(config, "_commit_hash", None)
        self.device = torch.device(device)
        self.dtype = getattr(torch, dtype or "float32")
        self.extractor = self._extractor(model_id, kwargs)
        model = AutoModel.from_pretrained(model_id, **kwargs)
        if self.model_type == "whisper":
            model = model.get_encoder()
        self.model = model.to(self.device, self.dtype).eval()
        self.name = Path(model_id).name if Path(model_id).is_dir() else str(model_id)
        self.sample_rate = self._rate(config)
        self.num_channels = codec_channels(config) if self.family_kind == "codec" else 1
        self.family = self.model_type
        self.paradigm = None if self.remote_code else PARADIGM_OF_TYPE.get(self.model_type)
        self.tokenizer = self._tokenizer(model_id, kwargs)
        self.text_layer = "projection" if self.tokenizer is not None else None
        self._layers = None
        if channel_policy is None:
            channel_policy = "native" if self.num_channels > 1 else "downmix"
        super().__init__(channel_policy, allow_tf32)
        if self.num_channels > 1 and self.channel_policy != "native":
            raise ValueError(f"{self.name} takes {self.num_channels} channels at once: "
                             f"channel_policy must be 'native', got {self.channel_policy!r}")

    @property
    def family_kind(self) -> str:
        """How the model is run: ``waveform``, ``spectrogram``, ``clap``, ``codec`` or
        ``remote`` (any other model, its own code included)."""
        if self.remote_code or self.model_type not in KNOWN_TYPES:
            return "remote"
        for kind, types in (("waveform", WAVEFORM_TYPES), ("spectrogram", SPECTROGRAM_TYPES),
                            ("clap", CLAP_TYPES)):
            if self.model_type in types:
                return kind
        return "codec"

    def _extractor(self, model_id, kwargs):
        """The feature extractor (codecs take the waveform; any other model may lack one)."""
        from transformers import AutoFeatureExtractor

        if self.family_kind == "codec":
            return None
        try:
            return AutoFeatureExtractor.from_pretrained(model_id, **kwargs)
        except (OSError, ValueError, KeyError):
            if self.family_kind != "remote":
                raise
            return None

    def _tokenizer(self, model_id, kwargs):
        """CLAP's tokenizer, when the model has a text tower and the folder a tokenizer."""
        from transformers import AutoTokenizer

        if not hasattr(self.model, "text_model"):
            return None
        try:
            return AutoTokenizer.from_pretrained(model_id, **kwargs)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _rate(self, config) -> int:
        rate = getattr(self.extractor, "sampling_rate", None) or config_sample_rate(config)
        if not rate:
            raise ValueError(f"{self.model_id!r} declares no sampling rate (no feature "
                             "extractor, no sampling_rate in its config)")
        return int(rate)

    @property
    def layers(self) -> tuple[str, ...]:
        if self._layers is None:
            probe = np.zeros((self.num_channels, self.sample_rate), np.float32)
            self._layers = tuple(self._embed([probe]))
        return self._layers

    @property
    def outputs(self) -> str:
        """Which of the model's outputs the layers are, in one sentence."""
        return describe_outputs(self.layers)

    def settings(self) -> dict:
        own = dict(model_id=self.model_id, revision=self.revision, pooling=self.pooling,
                   dtype=str(self.dtype).replace("torch.", ""), model_type=self.model_type)
        if self.remote_code:  # the repository's code decides the output too
            own["code"] = _weights_digest(self.model_id, self.commit, (".py",))
        return dict(super().settings(), **own)

    def parameter_count(self) -> int | None:
        """Parameters of what computes the audio embeddings (CLAP: the audio tower and its
        projection; codecs: encoder and quantiser; Whisper: the encoder)."""
        model = self.model
        if hasattr(model, "audio_model"):
            return parameter_count([model.audio_model, model.audio_projection])
        if self.family_kind == "codec":
            return parameter_count([model.encoder, model.quantizer])
        return parameter_count(model)

    def source(self) -> dict:
        where = {"folder": self.model_id} if Path(self.model_id).is_dir() else \
            {"hub_id": self.model_id, "revision": self.commit or self.revision}
        remote = {"remote_code": True} if self.remote_code else {}
        return {**package_source("transformers"), **where, **remote}

    def metadata(self) -> dict:
        return {**super().metadata(), "outputs": self.outputs}

    def embed_text(self, texts) -> np.ndarray:
        """CLAP's projected text embeddings of ``texts``: (len(texts), projection_dim)."""
        import torch

        if self.tokenizer is None:
            return super().embed_text(texts)
        tokens = self.tokenizer(list(texts), padding=True, return_tensors="pt").to(self.device)
        with torch.inference_mode(), self.precision():
            pooled = self.model.text_model(input_ids=tokens["input_ids"],
                                           attention_mask=tokens.get("attention_mask"))
            projected = self.model.text_projection(pooled.pooler_output)
        return projected.float().cpu().numpy()

    def _inputs(self, batch: np.ndarray) -> dict:
        """Feature-extractor output for (batch, samples), on the device."""
        import torch

        extra = {}
        if self.model_type in WAVEFORM_TYPES:
            extra = {"return_attention_mask": False}
        elif self.model_type in CLAP_TYPES:  # the input layout the checkpoint was built for
            config = getattr(self.model.config, "audio_config", self.model.config)
            extra = {"truncation": "fusion" if config.enable_fusion else "rand_trunc"}
        inputs = self.extractor(list(batch), sampling_rate=self.sample_rate,
                                return_tensors="pt", **extra)
        return {k: (v.to(self.device, self.dtype) if torch.is_floating_point(v)
                    else v.to(self.device)) for k, v in inputs.items()
                if k in ("input_values", "input_features", "is_longer")}

    def _valid_frames(self, num_samples: int, num_frames: int) -> int:
        if self.model_type in WAVEFORM_TYPES:
            lengths = self.model._get_feat_extract_output_lengths(num_samples)
            return int(min(num_frames, lengths))
        if self.model_type == "whisper":
            return int(min(num_frames, math.ceil(num_samples / WHISPER_SAMPLES_PER_FRAME)))
        return num_frames

    def _forward(self, batch: np.ndarray) -> dict:
        """{layer: (batch, dim)} for equal-length signals (batch, samples), or (batch,
        channels, samples) for a multichannel codec."""
        import torch

        kind = self.family_kind
        with torch.inference_mode():
            if kind == "codec":
                audio = torch.from_numpy(batch).to(self.device, self.dtype)
                return codec_layers(self.model, self.model_type,
                                    audio if audio.dim() == 3 else audio[:, None], self.pooling)
            if kind == "remote":
                args, kwargs = model_inputs(self.model, self.extractor, batch,
                                            self.sample_rate, self.device, self.dtype)
                return output_layers(self.model(*args, **kwargs), self.pooling)
            inputs = self._inputs(batch)
            if kind == "clap":
                return self._forward_clap(inputs)
            output = self.model(**inputs, output_hidden_states=True)
        layers = {}
        for k, hidden in enumerate(output.hidden_states):
            valid = self._valid_frames(batch.shape[-1], hidden.shape[1])
            layers[f"layer_{k:02d}"] = pool_frames(hidden, valid, self.pooling)
        return layers

    def _forward_clap(self, inputs) -> dict:
        audio_model = getattr(self.model, "audio_model", self.model)
        output = audio_model(**inputs, output_hidden_states=True)
        layers = {}
        for k, hidden in enumerate(output.hidden_states):
            if hidden.dim() == 4:  # (batch, channels, freq, time) stages of HTSAT
                hidden = hidden.flatten(2).transpose(1, 2)
            layers[f"layer_{k:02d}"] = pool_frames(hidden, hidden.shape[1], self.pooling)
        layers["pooler"] = output.pooler_output.float()
        if hasattr(self.model, "audio_projection"):
            layers["projection"] = self.model.audio_projection(output.pooler_output).float()
        return layers

    def _embed(self, signals: list[np.ndarray]) -> dict[str, np.ndarray]:
        by_length = defaultdict(list)
        for i, signal in enumerate(signals):
            by_length[signal.shape[1]].append(i)
        out: dict[str, np.ndarray] = {}
        for indices in by_length.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start:start + self.batch_size]
                batch = np.stack([signals[i] if self.num_channels > 1 else signals[i][0]
                                  for i in chunk])
                for layer, values in self._forward(batch).items():
                    if layer not in out:
                        out[layer] = np.zeros((len(signals), values.shape[-1]), np.float32)
                    out[layer][chunk] = values.float().cpu().numpy()
        return out
