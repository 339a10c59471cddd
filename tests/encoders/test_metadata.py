"""sarl_hf.encoders.metadata: what every encoder reports about itself, outside its
fingerprint, and the input configuration of a run."""

import pytest

from sarl_hf.encoders import load_encoder, packaged_encoders
from sarl_hf.encoders.metadata import (LAYOUTS, PARADIGMS, check_paradigm, default_layout,
                                       input_configuration)

KEYS = {"name", "family", "input_channels", "layout", "sample_rate", "channel_policy",
        "paradigm", "training_data", "parameters", "source"}


@pytest.mark.parametrize("name", ["sarl-logmel", "sarl-spatial", "crepe-tiny", "ge2e", "pesto",
                                  "silero-vad"])
def test_every_packaged_encoder_reports_its_metadata(name):
    encoder = load_encoder(name)
    meta = encoder.metadata()
    assert set(meta) == KEYS and meta["name"] == name
    assert meta["paradigm"] in PARADIGMS and meta["layout"] in LAYOUTS
    assert meta["sample_rate"] == encoder.sample_rate == 16000
    assert meta["source"]["package"] and meta["source"]["package_version"]
    assert isinstance(meta["parameters"], int)
    before = encoder.fingerprint()
    encoder.training_data = "something else"  # metadata never moves the fingerprint
    assert encoder.fingerprint() == before


def test_what_each_packaged_encoder_is():
    logmel, spatial = load_encoder("sarl-logmel").metadata(), load_encoder("sarl-spatial")
    assert (logmel["paradigm"], logmel["parameters"], logmel["layout"]) == \
        ("handcrafted", 0, "mono")
    assert spatial.metadata()["layout"] == "any"
    assert load_encoder("sarl-spatial", channel_format="foa").metadata()["layout"] == "foa"
    crepe = load_encoder("crepe-tiny").metadata()
    assert crepe["family"] == "CREPE" and crepe["paradigm"] == "supervised"
    assert 400_000 < crepe["parameters"] < 600_000  # CREPE tiny: 487 k
    assert set(packaged_encoders()) >= {"sarl-logmel", "sarl-spatial", "crepe-tiny", "ge2e"}


def test_input_configuration_is_what_reached_the_model():
    mono = {"channel_policy": "downmix", "input_channels": 1, "layout": "mono"}
    assert input_configuration(mono, "binaural") == "mono"
    assert input_configuration(dict(mono, channel_policy="channel:1"), "foa") == "mono"
    assert input_configuration(dict(mono, channel_policy="per_channel_concat"),
                               "binaural") == "mono per channel"
    native = {"channel_policy": "native", "input_channels": None, "layout": "any"}
    assert input_configuration(native, "foa") == "foa"
    assert input_configuration(native) == "any"
    assert input_configuration({}, "stereo") == "mono"  # old results: downmix


def test_checks_and_defaults():
    assert check_paradigm(None) is None and check_paradigm("handcrafted") == "handcrafted"
    with pytest.raises(ValueError, match="paradigm must be one of"):
        check_paradigm("magic")
    assert [default_layout(n) for n in (1, 2, 4, None, 3)] == \
        ["mono", "stereo", "foa", "any", "any"]
