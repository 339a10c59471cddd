"""sarl_hf.sources.cache: rendered clips in a folder with a checksummed manifest."""

import hashlib
import json
import os

import numpy as np

from sarl_hf.sources.cache import ClipCache, params_digest


def test_clips_round_trip_and_files_get_the_usual_permissions(tmp_path):
    clip = np.random.default_rng(0).standard_normal(800).astype(np.float32)
    saved = os.umask(0o022)
    try:
        cache = ClipCache(tmp_path, {"seed": 0})
        cache.write("gm/piano/train/0000", clip, 22050)
        cache.save_manifest()
    finally:
        os.umask(saved)
    audio, rate = ClipCache(tmp_path, {"seed": 0}).read("gm/piano/train/0000")
    np.testing.assert_array_equal(audio, clip)
    assert rate == 22050
    for path in (tmp_path / "piano/train/0000.wav", tmp_path / "manifest.json"):
        assert path.stat().st_mode & 0o777 == 0o644  # the old writer left 0600
    assert not list(tmp_path.rglob(".*"))


def test_a_flipped_byte_makes_a_clip_missing(tmp_path):
    cache = ClipCache(tmp_path, {})
    cache.write("gm/piano/train/0000", np.ones(100, np.float32), 22050)
    cache.save_manifest()
    path = tmp_path / "piano/train/0000.wav"
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    assert ClipCache(tmp_path, {}).missing(["gm/piano/train/0000"]) == ["gm/piano/train/0000"]
    assert ClipCache(tmp_path, {}).read("gm/piano/train/0000") is None


def test_params_digest_keeps_naming_existing_cache_folders():
    # gm cache folders are named by the sha256 of the parameters as compact sorted JSON
    params = {"b": 1, "a": [1, 2], "c": {"y": "é", "x": 0.5}}
    text = json.dumps(params, sort_keys=True, separators=(",", ":"))
    assert params_digest(params) == hashlib.sha256(text.encode()).hexdigest()[:16]
