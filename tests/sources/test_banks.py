"""sarl_hf.sources.banks: the source-bank registry (names, dicts, new kinds)."""

import numpy as np
import pytest

from sarl_hf.corpus.plan import CorpusPlan
from sarl_hf.sources import (BANKS, FolderBank, ProceduralBank, SourceBank, as_bank, bank_from_dict,
                             bank_from_name, bank_names, register_bank)
from sarl_hf.splits import SPLITS


class ToneBank(SourceBank):
    """Two classes of pure tones at a frequency the name gives (``tone:440``)."""

    name = "tone"

    def __init__(self, hz: float = 440.0):
        self.hz = float(hz)

    @property
    def classes(self):
        return ("high", "low")

    def clip_ids(self, split, class_name):
        self._check_split_and_class(split, class_name)
        return [f"tone/{class_name}/{split}/{i}" for i in range(2)]

    def load(self, clip_id, sample_rate, duration_s):
        _, class_name, _, index = clip_id.split("/")
        hz = self.hz * (2 if class_name == "high" else 1) * (1 + 0.01 * int(index))
        t = np.arange(int(round(sample_rate * duration_s))) / sample_rate
        return (0.05 * np.sin(2 * np.pi * hz * t)).astype(np.float32)

    def to_dict(self):
        return {"name": "tone", "kind": "tone", "hz": self.hz}


@pytest.fixture
def tone_kind():
    register_bank("tone", build=lambda argument, seed: ToneBank(float(argument)),
                  rebuild=lambda d: ToneBank(d["hz"]), usage="tone:HZ")
    yield
    BANKS.unregister("tone")


def test_the_built_in_names_and_their_order():
    assert bank_names() == ("procedural", "gm", "auto", "folder:PATH")
    assert list(BANKS) == ["procedural", "gm", "auto", "folder", "dataset"]


@pytest.mark.parametrize("name", ["fm", "procedural:3", "folder", "tone:440", "", "gm:x"])
def test_an_unknown_or_misspelt_name_lists_the_choices(name):
    with pytest.raises(ValueError, match=r"^sources must be one of procedural, gm, auto, "
                                         r"folder:PATH, got "):
        bank_from_name(name)


def test_dicts_of_unknown_or_dataset_kinds_are_refused_with_the_old_messages():
    with pytest.raises(ValueError, match=r"unknown kind 'x'; expected 'procedural', 'gm' or "
                                         r"'folder'$"):
        bank_from_dict({"kind": "x"})
    with pytest.raises(ValueError, match=r"bank 'mine' is a dataset bank and cannot be rebuilt"):
        bank_from_dict({"kind": "dataset", "name": "mine"})
    with pytest.raises(ValueError, match="needs a 'root' entry"):
        bank_from_dict({"kind": "folder"})


def test_folder_names_take_a_path(tmp_path):
    import soundfile as sf

    rng = np.random.default_rng(0)
    for class_name in ("a", "b"):
        (tmp_path / class_name).mkdir()
        for k in range(3):
            sf.write(tmp_path / class_name / f"{k}.wav", 0.1 * rng.standard_normal(1600), 16000)
    bank = bank_from_name(f"folder:{tmp_path}")
    assert isinstance(bank, FolderBank) and bank.classes == ("a", "b")
    assert bank_from_dict(bank.to_dict()).to_dict() == bank.to_dict()
    assert isinstance(as_bank(None, seed=4), ProceduralBank)


def test_a_new_kind_joins_names_dicts_and_plans(tone_kind):
    assert "tone:HZ" in bank_names()
    bank = bank_from_name("tone:220")
    assert isinstance(bank, ToneBank) and bank.hz == 220.0
    assert bank_from_dict(bank.to_dict()).hz == 220.0
    assert as_bank("tone:330").hz == 330.0
    plan = CorpusPlan(scenes=5, formats=("mono",), bank=bank.to_dict())
    specs = plan.specs("mono", "train", bank)
    assert {s.sources[0].class_name for s in specs} <= {"high", "low"}
    assert all(s.sources[0].clip_id in bank.clip_ids(s.split, s.sources[0].class_name)
               for s in specs)
    assert SPLITS == ("train", "validation", "test")
    with pytest.raises(ValueError, match="already registered"):
        register_bank("tone", build=lambda argument, seed: ToneBank())


def test_the_command_line_offers_a_registered_kind(tone_kind, tmp_path):
    from conftest import run_cli

    code, out, err = run_cli(["render", "--out", str(tmp_path / "wav"), "--train", "2",
                              "--validation", "1", "--test", "1", "--duration", "0.25",
                              "--sources", "tone:500", "--no-progress"])
    assert code == 0, err
    assert "tone bank" in out and len(list((tmp_path / "wav/mono").rglob("*.wav"))) == 4
