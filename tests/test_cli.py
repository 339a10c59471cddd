"""The command line: one parent parser for the scene options, the plan's defaults, and the
flags it adds to the library's named errors."""

import json

import pytest
from conftest import run_cli

from sarl_hf import cli
from sarl_hf.acoustics.formats import FORMATS
from sarl_hf.corpus.plan import CorpusPlan
from sarl_hf.errors import ArgumentRequired, CorpusMismatch, IncompleteCorpus, ResumeRequired

SCENE_OPTIONS = ("--formats", "--seed", "--sample-rate", "--duration", "--sources",
                 "--no-progress")


def _subparser(name):
    parser = cli.build_parser()
    choices = next(a for a in parser._actions if a.dest == "command").choices
    return choices[name]


@pytest.mark.parametrize("command, formats", [("render", ["mono"]), ("generate", list(FORMATS)),
                                              ("bench", ["binaural"])])
def test_scene_commands_share_the_scene_options(command, formats):
    sub = _subparser(command)
    flags = {flag for action in sub._actions for flag in action.option_strings}
    assert set(SCENE_OPTIONS) <= flags
    args = sub.parse_args(["--out", "x"])
    assert args.formats == formats and args.seed == 0 and args.sample_rate == 16000
    assert args.duration == 4.0 and args.sources == "procedural"


def test_the_plan_holds_the_defaults_the_command_line_used_to_compute():
    assert CorpusPlan(scenes=1000).multisource_scenes == 250
    assert CorpusPlan(scenes=1000).sensitivity_anchors == 10
    assert CorpusPlan(scenes=40).to_dict()["multisource_scenes"] == 10
    assert CorpusPlan(scenes=40).to_dict()["sensitivity_anchors"] == 1
    assert CorpusPlan(scenes=40, multisource_scenes=0, sensitivity_anchors=0).configs() == \
        list(FORMATS)
    plan = CorpusPlan(scenes=40)
    assert CorpusPlan.from_dict(plan.to_dict()).to_dict() == plan.to_dict()


def test_generate_writes_the_plan_with_its_defaults(tmp_path):
    code, out, err = run_cli(["generate", "--out", str(tmp_path / "c"), "--scenes", "8",
                              "--formats", "mono", "--duration", "0.25", "--no-progress"])
    assert code == 0, err
    plan = json.loads((tmp_path / "c/.sarl/plan.json").read_text())
    assert plan["multisource_scenes"] == 2 and plan["sensitivity_anchors"] == 1
    assert plan == CorpusPlan(scenes=8, formats=("mono",), duration_s=0.25,
                              bank=plan["bank"]).to_dict()


@pytest.mark.parametrize("error, command, hint", [
    (CorpusMismatch("x holds another corpus"), "generate", "use another --out or remove it"),
    (CorpusMismatch("x holds another corpus"), "render", "use another --out or remove it"),
    (CorpusMismatch("measured on another corpus"), "report", "pass --other-corpora"),
    (ResumeRequired("x already holds this corpus"), "generate", "pass --resume"),
    (IncompleteCorpus("x is not finished"), "embed", "sarl generate ... --resume"),
    (ArgumentRequired("choose a format", "channel_format"), "embed", "--format"),
])
def test_the_command_line_adds_its_flag_to_a_named_error(error, command, hint):
    message = cli.error_message(error, command)
    assert message.startswith(str(error)) and hint in message
    assert cli.error_message(ValueError("plain"), command) == "plain"


def test_embedding_a_kind_of_config_without_a_format_names_the_flag(tiny_corpus, tmp_path):
    code, _, err = run_cli(["embed", "--corpus", str(tiny_corpus), "--config", "multisource",
                            "--encoder", "sarl-logmel", "--cache", str(tmp_path)])
    assert code == 2 and "channel_format" in err and "--format" in err


def test_embedding_an_unfinished_corpus_says_how_to_finish_it(tmp_path):
    code, _, err = run_cli(["embed", "--corpus", str(tmp_path), "--config", "mono",
                            "--encoder", "sarl-logmel", "--cache", str(tmp_path / "e")])
    assert code == 2 and "not a finished corpus" in err and "--resume" in err


def _commands():
    parser = cli.build_parser()
    return next(a for a in parser._actions if a.dest == "command").choices


def test_help_shows_every_default_it_has(capsys):
    for name, sub in _commands().items():
        text = sub.format_help()
        assert "(default: None)" not in text and "(default: False)" not in text, name
    embed, bench = _commands()["embed"].format_help(), _commands()["bench"].format_help()
    assert "cache root (default: out/embeddings)" in embed
    assert "scenes per batch (default: 32)" in embed
    assert "bootstrap resamples (default: 1000)" in bench
    assert "(default: 400)" in bench and "seed of the scene design (default: 0)" in bench
    code, stdout, _ = run_cli(["bench", "--help"])
    assert code == 0 and "(default: 1000)" in stdout


def test_embed_and_bench_share_one_device_rule(monkeypatch):
    import torch

    from sarl_hf.checks import default_device

    for name in ("embed", "bench"):
        device = next(a for a in _commands()[name]._actions if a.dest == "device")
        assert device.default is None and device.help.startswith(cli.DEVICE_HELP)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert default_device() == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert default_device() == "cuda"


def test_a_cache_hit_says_cached_and_messages_go_through_logging(tiny_corpus, tmp_path):
    import logging

    library = logging.getLogger("sarl_hf")
    handlers, level = list(library.handlers), library.level
    argv = ["embed", "--corpus", str(tiny_corpus), "--config", "mono", "--encoder",
            "sarl-logmel", "--cache", str(tmp_path), "--device", "cpu"]
    code, stdout, stderr = run_cli(argv)
    assert code == 0, stderr
    assert "embedding mono (sarl-logmel): 100%" in stderr and "cached" not in stderr
    code, stdout, stderr = run_cli(argv)
    assert code == 0, stderr
    assert "embedding mono (sarl-logmel): cached (train, validation, test)" in stderr
    assert "0scene" not in stderr and "?scene/s" not in stderr
    assert "cache hit for train, validation, test" in stdout
    assert library.handlers == handlers and library.level == level  # as before the CLI
