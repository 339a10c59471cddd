"""Any ``transformers`` audio model as an SARL encoder: every hidden layer, pooled.

Supported families (by ``config.model_type``):

- raw-waveform encoders: wav2vec2, wav2vec2-conformer, HuBERT, WavLM, data2vec-audio,
  UniSpeech(-SAT), SEW(-D): ``input_values``; frames pooled over the clip's own frames;
- spectrogram transformers: AST (``input_values``, fixed 1024 frames; the first token is
  its CLS token) and the Whisper encoder (``input_features`` padded to 30 s by design:
  only the frames that cover the clip are pooled);
- CLAP's audio tower (``ClapModel`` / ``ClapAudioModel``): the audio encoder's hidden
  states pooled, its pooled output and the projected audio embedding. CLAP's feature
  extractor repeats clips shorter than 10 s and crops longer ones at a random offset
  (its own behaviour): keep scenes ≤ 10 s for deterministic embeddings.

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

WAVEFORM_TYPES = ("wav2vec2", "wav2vec2-conformer", "hubert", "wavlm", "data2vec-audio",
                  "unispeech", "unispeech-sat", "sew", "sew-d", "wav2vec2-bert")
SPECTROGRAM_TYPES = ("audio-spectrogram-transformer", "whisper")
CLAP_TYPES = ("clap", "clap_audio_model")
POOLINGS = ("mean", "max", "mean+std", "first")
DTYPES = ("float32", "float16", "bfloat16")
WHISPER_SAMPLES_PER_FRAME = 320  # 10 ms hop, then stride 2 in the encoder, at 16 kHz


def _weights_digest(model_id: str, revision: str | None) -> str:
    """The revision for a Hub id, or a digest of a local folder's weight files."""
    folder = Path(model_id)
    if not folder.is_dir():
        return revision or "main"
    weights = [p for p in sorted(folder.glob("*"))
               if p.suffix in (".safetensors", ".bin", ".json")]
    return files_digest(weights, folder)[:16]


def _pool(frames, valid: int, pooling: str):
    """Pool (batch, frames, dim) over the first ``valid`` frames → (batch, dim')."""
    import torch

    frames = frames[:, :valid].float()
    if pooling == "mean":
        return frames.mean(1)
    if pooling == "max":
        return frames.amax(1)
    if pooling == "mean+std":
        return torch.cat([frames.mean(1), frames.std(1, unbiased=False)], dim=-1)
    return frames[:, 0]


class TransformersEncoder(Encoder):
    """A ``transformers`` audio model, frozen, with its feature extractor.

    Parameters
    ----------
    model_id : str
        Hub id (e.g. ``facebook/wav2vec2-base``) or local folder.
    pooling : str
        ``mean``, ``max``, ``mean+std`` or ``first`` (first token: AST's CLS).
    channel_policy : str
        ``downmix``, ``per_channel_concat`` or ``channel:K`` (the models take one channel).
    device : str
        Torch device, e.g. ``cpu``, ``cuda``.
    dtype : str, optional
        ``float32`` (default), ``float16`` or ``bfloat16``.
    batch_size : int
        Signals per forward pass.
    revision : str, optional
        Hub revision.
    trust_remote_code : bool
        Run code from the model repo; off unless asked.
    allow_tf32 : bool
        See :class:`~sarl_hf.encoders.base.Encoder`.
    """

    #: The waveform models' feature encoders span 400 samples at 16 kHz.
    min_clip_s = 0.025

    def __init__(self, model_id: str, pooling: str = "mean", channel_policy: str = "downmix",
                 device: str = "cpu", dtype: str | None = None, batch_size: int = 16,
                 revision: str | None = None, trust_remote_code: bool = False,
                 allow_tf32: bool = False):
        import torch
        from transformers import AutoConfig, AutoFeatureExtractor, AutoModel

        if dtype not in DTYPES + (None,):
            raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        kwargs = dict(revision=revision, trust_remote_code=trust_remote_code)
        try:
            config = AutoConfig.from_pretrained(model_id, **kwargs)
        except OSError as err:
            raise ValueError(f"cannot load {model_id!r}: not a local folder, and the Hub "
                             f"cannot provide it (offline, or no such model): {err}") from err
        self.model_type = config.model_type
        if self.model_type not in WAVEFORM_TYPES + SPECTROGRAM_TYPES + CLAP_TYPES:
            known = WAVEFORM_TYPES + SPECTROGRAM_TYPES + CLAP_TYPES
            raise ValueError(f"{model_id!r} is a {self.model_type!r} model, not an audio "
                             f"encoder this wrapper knows: {known}")
        if pooling == "first" and self.model_type != "audio-spectrogram-transformer":
            raise ValueError(f"pooling 'first' needs a model with a CLS token (AST), not "
                             f"{self.model_type!r}")
        self.model_id, self.pooling, self.batch_size = str(model_id), pooling, batch_size
        self.revision = _weights_digest(str(model_id), revision)
        self.device = torch.device(device)
        self.dtype = getattr(torch, dtype or "float32")
        self.extractor = AutoFeatureExtractor.from_pretrained(model_id, **kwargs)
        model = AutoModel.from_pretrained(model_id, **kwargs)
        if self.model_type == "whisper":
            model = model.get_encoder()
        self.model = model.to(self.device, self.dtype).eval()
        self.name = Path(model_id).name if Path(model_id).is_dir() else str(model_id)
        self.sample_rate = int(self.extractor.sampling_rate)
        self.num_channels = 1
        self._layers = None
        super().__init__(channel_policy, allow_tf32)

    @property
    def layers(self) -> tuple[str, ...]:
        if self._layers is None:
            probe = np.zeros((1, self.sample_rate), np.float32)
            self._layers = tuple(self._embed([probe]))
        return self._layers

    def settings(self) -> dict:
        return dict(super().settings(), model_id=self.model_id, revision=self.revision,
                    pooling=self.pooling, dtype=str(self.dtype).replace("torch.", ""),
                    model_type=self.model_type)

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
        """{layer: (batch, dim)} for equal-length signals (batch, samples)."""
        import torch

        inputs = self._inputs(batch)
        with torch.inference_mode():
            if self.model_type in CLAP_TYPES:
                return self._forward_clap(inputs)
            output = self.model(**inputs, output_hidden_states=True)
        layers = {}
        for k, hidden in enumerate(output.hidden_states):
            valid = self._valid_frames(batch.shape[1], hidden.shape[1])
            layers[f"layer_{k:02d}"] = _pool(hidden, valid, self.pooling)
        return layers

    def _forward_clap(self, inputs) -> dict:
        audio_model = getattr(self.model, "audio_model", self.model)
        output = audio_model(**inputs, output_hidden_states=True)
        layers = {}
        for k, hidden in enumerate(output.hidden_states):
            if hidden.dim() == 4:  # (batch, channels, freq, time) stages of HTSAT
                hidden = hidden.flatten(2).transpose(1, 2)
            layers[f"layer_{k:02d}"] = _pool(hidden, hidden.shape[1], self.pooling)
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
                batch = np.stack([signals[i][0] for i in chunk])
                for layer, values in self._forward(batch).items():
                    if layer not in out:
                        out[layer] = np.zeros((len(signals), values.shape[-1]), np.float32)
                    out[layer][chunk] = values.float().cpu().numpy()
        return out
