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
