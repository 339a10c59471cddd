"""Tiny random audio models built from configs and saved with their feature extractors,
so that tests load them through ``AutoModel.from_pretrained`` like any checkpoint."""

from __future__ import annotations

from pathlib import Path

import torch
import transformers as tf

SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37)
CONV = dict(conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
TOKENS = dict(pad_token_id=0, bos_token_id=1, eos_token_id=2)


def _clap():
    audio = tf.ClapAudioConfig(spec_size=256, patch_size=4, patch_embeds_hidden_size=16,
                               hidden_size=32, depths=[1, 1], num_attention_heads=[2, 2],
                               window_size=8, num_mel_bins=64, projection_dim=16)
    text = tf.ClapTextConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1,
                             num_attention_heads=2, intermediate_size=37, projection_dim=16,
                             **TOKENS)
    config = tf.ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(),
                           projection_dim=16)
    return tf.ClapModel(config), tf.ClapFeatureExtractor(feature_size=64)


def _whisper():
    config = tf.WhisperConfig(d_model=32, encoder_layers=2, decoder_layers=1,
                              encoder_attention_heads=2, decoder_attention_heads=2,
                              encoder_ffn_dim=37, decoder_ffn_dim=37, vocab_size=100,
                              max_target_positions=8, decoder_start_token_id=1, **TOKENS)
    return tf.WhisperModel(config), tf.WhisperFeatureExtractor()


BUILDERS = {
    "wav2vec2": lambda: (tf.Wav2Vec2Model(tf.Wav2Vec2Config(**SMALL, **CONV)),
                         tf.Wav2Vec2FeatureExtractor()),
    "hubert": lambda: (tf.HubertModel(tf.HubertConfig(**SMALL, **CONV)),
                       tf.Wav2Vec2FeatureExtractor()),
    "wavlm": lambda: (tf.WavLMModel(tf.WavLMConfig(**SMALL, **CONV, num_buckets=16,
                                                   max_bucket_distance=64)),
                      tf.Wav2Vec2FeatureExtractor()),
    "data2vec-audio": lambda: (tf.Data2VecAudioModel(tf.Data2VecAudioConfig(
        **SMALL, conv_dim=(16,) * 7, num_conv_pos_embeddings=4,
        num_conv_pos_embedding_groups=2)), tf.Wav2Vec2FeatureExtractor(return_attention_mask=True)),
    "ast": lambda: (tf.ASTModel(tf.ASTConfig(**SMALL, num_mel_bins=32, max_length=200)),
                    tf.ASTFeatureExtractor(num_mel_bins=32, max_length=200)),
    "whisper": _whisper,
    "clap": _clap,
}


def save_tiny(kind: str, folder: Path, seed: int = 0) -> Path:
    """Build the tiny ``kind`` model with random weights (seeded) and save it to ``folder``."""
    torch.manual_seed(seed)
    model, extractor = BUILDERS[kind]()
    model.save_pretrained(folder)
    extractor.save_pretrained(folder)
    return folder


def save_tiny_codec(kind: str, folder: Path, seed: int = 0, audio_channels: int = 1) -> Path:
    """A tiny ``EncodecModel`` (``kind="encodec"``, mono or stereo) or ``DacModel`` with
    random weights (seeded) and its feature extractor, at 16 kHz, hop 8 samples."""
    torch.manual_seed(seed)
    if kind == "encodec":
        config = tf.EncodecConfig(target_bandwidths=[8.0, 16.0], sampling_rate=16000,
                                  audio_channels=audio_channels, num_filters=4,
                                  upsampling_ratios=[4, 2], codebook_size=16, hidden_size=8,
                                  num_lstm_layers=1, normalize=audio_channels > 1)
        model = tf.EncodecModel(config)
        extractor = tf.EncodecFeatureExtractor(feature_size=audio_channels, sampling_rate=16000)
    else:
        config = tf.DacConfig(encoder_hidden_size=4, downsampling_ratios=[2, 4],
                              upsampling_ratios=[4, 2], decoder_hidden_size=8, n_codebooks=2,
                              codebook_size=16, codebook_dim=4, hidden_size=16,
                              sampling_rate=16000)
        model = tf.DacModel(config)
        extractor = tf.DacFeatureExtractor(sampling_rate=16000, hop_length=8)
    model.save_pretrained(folder)
    extractor.save_pretrained(folder)
    return folder


#: The modelling code of a tiny model the package does not know, shipped in its folder and
#: loaded through ``auto_map`` (``trust_remote_code=True``): framed linear layers, with
#: or without ``hidden_states`` in its output.
REMOTE_CONFIG = '''
from transformers import PretrainedConfig


class TinyAudioConfig(PretrainedConfig):
    model_type = "sarl-test-tiny-audio"

    def __init__(self, hidden_size=8, num_layers=2, hop=160, sampling_rate=16000,
                 hidden_states=True, **kwargs):
        self.hidden_size, self.num_layers, self.hop = hidden_size, num_layers, hop
        self.sampling_rate, self.hidden_states = sampling_rate, hidden_states
        super().__init__(**kwargs)
'''
REMOTE_MODEL = '''
import torch
from transformers import PreTrainedModel
from transformers.modeling_outputs import BaseModelOutput, BaseModelOutputWithPooling

from .configuration_tiny_audio import TinyAudioConfig


class TinyAudioModel(PreTrainedModel):
    config_class = TinyAudioConfig

    def __init__(self, config):
        super().__init__(config)
        self.frame = torch.nn.Linear(config.hop, config.hidden_size)
        self.layers = torch.nn.ModuleList(torch.nn.Linear(config.hidden_size, config.hidden_size)
                                          for _ in range(config.num_layers))
        self.post_init()

    def forward(self, input_values, output_hidden_states=False, return_dict=None):
        hop = self.config.hop
        hidden = torch.tanh(self.frame(input_values.unfold(-1, hop, hop)))
        states = [hidden]
        for layer in self.layers:
            hidden = torch.tanh(layer(hidden))
            states.append(hidden)
        if not self.config.hidden_states:
            return BaseModelOutputWithPooling(last_hidden_state=hidden, pooler_output=hidden[:, -1])
        return BaseModelOutput(last_hidden_state=hidden,
                               hidden_states=tuple(states) if output_hidden_states else None)
'''


def save_tiny_remote(folder: Path, hidden_states: bool = True, extractor: bool = False,
                     seed: int = 0) -> Path:
    """A tiny model with its own modelling code in ``folder`` (``auto_map``), built through
    the remote-code path and saved; with ``extractor``, a ``Wav2Vec2FeatureExtractor`` too."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "configuration_tiny_audio.py").write_text(REMOTE_CONFIG)
    (folder / "modeling_tiny_audio.py").write_text(REMOTE_MODEL)
    (folder / "config.json").write_text(json.dumps({
        "model_type": "sarl-test-tiny-audio", "hidden_states": hidden_states,
        "auto_map": {"AutoConfig": "configuration_tiny_audio.TinyAudioConfig",
                     "AutoModel": "modeling_tiny_audio.TinyAudioModel"}}))
    config = tf.AutoConfig.from_pretrained(folder, trust_remote_code=True)
    torch.manual_seed(seed)
    tf.AutoModel.from_config(config, trust_remote_code=True).save_pretrained(folder)
    if extractor:
        tf.Wav2Vec2FeatureExtractor(do_normalize=True).save_pretrained(folder)
    return folder


#: Words of SARL's captions that tell places, sizes and a few sounds apart; any other word
#: is the unknown token.
CAPTION_WORDS = ("a an and in the to of is far near close front left right back behind "
                 "slightly up down high low small medium-sized large very dry reverberant "
                 "room hall shaped L-shaped T-shaped hexagonal bell rings person speaks tone "
                 "plays drum beats siren wails noise hisses voice sings vowel machine hums "
                 "something clicks crackles sweeps trembles harmonic bursts of steady").split()


def save_tiny_clap_with_text(folder: Path, seed: int = 0) -> Path:
    """The tiny ``ClapModel`` with its feature extractor and a word-level tokenizer of
    :data:`CAPTION_WORDS`, so that its text tower embeds captions."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    save_tiny("clap", folder, seed)
    specials = ["<pad>", "<s>", "</s>", "<unk>"]  # ids 0, 1, 2 as in the tiny text config
    vocabulary = {word: k for k, word in enumerate(specials + list(CAPTION_WORDS))}
    tokenizer = Tokenizer(models.WordLevel(vocabulary, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace()])
    fast = tf.PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>",
                                      bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    fast.save_pretrained(folder)
    return folder
