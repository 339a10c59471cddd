"""sarl_hf.encoders.registry: names, saved folders, prefixes and new kinds of encoder."""

import numpy as np
import pytest

from sarl_hf.encoders import (ENCODERS, HUB_ENCODERS, Encoder, ModuleEncoder, encoder_names,
                              load_encoder, packaged_encoders, register_encoder)
from sarl_hf.encoders.reference import (LogMelEncoder, SarlSpatialConfig, SarlSpatialModel,
                                        SpatialEncoder)
from sarl_hf.results.explore import check_encoder_name


class LevelDifference(Encoder):
    """A two-channel encoder the package does not have: the left-right level difference."""

    name = "level-difference"
    num_channels = 2

    def __init__(self, gain: float = 1.0, channel_policy: str = "native"):
        super().__init__(channel_policy)
        self.gain = gain

    @property
    def layers(self):
        return ("ild",)

    def settings(self):
        return {**super().settings(), "gain": self.gain}

    def _embed(self, signals):
        energy = np.stack([np.mean(s ** 2, axis=1) for s in signals])
        return {"ild": self.gain * 10 * np.log10(energy[:, :1] / energy[:, 1:])}


@pytest.fixture
def plugin():
    register_encoder("level-difference", lambda argument, channel_format, options:
                     LevelDifference(**options))
    register_encoder("gained", lambda argument, channel_format, options:
                     LevelDifference(gain=float(argument), **options), usage="gained:GAIN")
    yield
    ENCODERS.unregister("level-difference")
    ENCODERS.unregister("gained")


def test_the_names_in_one_place():
    assert packaged_encoders() == ("sarl-logmel", "sarl-spatial", "crepe-tiny", "crepe-full",
                                   "ge2e", "pesto", "silero-vad")
    assert encoder_names() == packaged_encoders() + ("hear:MODULE", *HUB_ENCODERS,
                                                     "<transformers model id or folder>")


def test_reference_names_and_saved_folders_load_their_encoder(tmp_path):
    assert isinstance(load_encoder("sarl-logmel"), LogMelEncoder)
    assert load_encoder("sarl-spatial", channel_format="foa").layout == "foa"
    SarlSpatialModel(SarlSpatialConfig(n_fft=512)).save_pretrained(tmp_path)
    from_folder = load_encoder(str(tmp_path))
    assert isinstance(from_folder, SpatialEncoder) and from_folder.model.config.n_fft == 512
    with pytest.raises(ValueError, match="encoder 'sarl-logmel' does not take pooling"):
        load_encoder("sarl-logmel", pooling="max")


def test_a_registered_kind_loads_by_name_and_by_prefix(plugin):
    encoder = load_encoder("level-difference")
    left = np.stack([np.ones(800), 0.5 * np.ones(800)]).astype(np.float32)
    assert encoder.embed([left], 16000)["ild"][0, 0] == pytest.approx(10 * np.log10(4),
                                                                      rel=1e-5)
    gained = load_encoder("gained:2")
    assert gained.embed([left], 16000)["ild"][0, 0] == pytest.approx(20 * np.log10(4),
                                                                     rel=1e-5)
    assert encoder.fingerprint() != gained.fingerprint()
    assert "level-difference" in packaged_encoders() and "gained:GAIN" in encoder_names()
    assert "gained" not in packaged_encoders()  # a prefix kind needs its argument
    assert check_encoder_name("level-difference") == "level-difference"
    with pytest.raises(ValueError, match="already registered"):
        register_encoder("gained", lambda *a: None)


def test_an_unknown_name_falls_through_to_transformers_with_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="cannot load"):
        load_encoder(str(tmp_path / "no-such-model"))


def test_an_installed_package_registers_an_encoder_through_its_entry_point(binaural_plugin):
    assert binaural_plugin in packaged_encoders() and binaural_plugin in encoder_names()
    encoder = load_encoder(binaural_plugin)
    assert isinstance(encoder, ModuleEncoder) and encoder.num_channels == 2
    left = np.stack([np.ones(800), 0.5 * np.ones(800)]).astype(np.float32)
    assert encoder.embed([left], 16000)["ild"][0, 0] == pytest.approx(10 * np.log10(4),
                                                                      rel=1e-5)
    assert encoder.metadata()["layout"] == "binaural"
    assert load_encoder(binaural_plugin, gain_db=3.0).fingerprint() != encoder.fingerprint()
    with pytest.raises(ValueError, match="'toy-binaural' does not take pooling"):
        load_encoder(binaural_plugin, pooling="max")
    assert check_encoder_name(binaural_plugin) == binaural_plugin


def test_a_registered_name_wins_over_a_plugin_and_a_broken_plugin_says_where(binaural_plugin,
                                                                              tmp_path):
    register_encoder(binaural_plugin, lambda argument, channel_format, options:
                     LevelDifference(**options))
    try:
        assert isinstance(load_encoder(binaural_plugin), LevelDifference)
    finally:
        ENCODERS.unregister(binaural_plugin)
    site = next(p for p in tmp_path.iterdir() if p.name == "site")
    (site / "toy_binaural_sarl" / "__init__.py").write_text("raise RuntimeError('broken')\n")
    with pytest.raises(ImportError, match="toy_binaural_sarl:build.*of toy-binaural-sarl"):
        load_encoder(binaural_plugin)


def test_hub_short_names_need_the_hub_and_say_so_in_one_line():
    assert list(HUB_ENCODERS)[:3] == ["wav2vec2-base", "hubert-base", "wavlm-base-plus"]
    assert HUB_ENCODERS["clap-htsat"].hub_id == "laion/clap-htsat-unfused"
    assert not set(HUB_ENCODERS) & set(packaged_encoders())  # none works without the Hub
    with pytest.raises(ValueError, match="HF_HUB_OFFLINE=1") as offline:
        load_encoder("wav2vec2-base")
    message = str(offline.value)
    assert "facebook/wav2vec2-base" in message and "\n" not in message


def test_trust_remote_code_is_a_permission_that_installed_kinds_ignore():
    assert load_encoder("sarl-logmel", trust_remote_code=True).name == "sarl-logmel"
