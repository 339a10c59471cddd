"""Tests for sarl_hf.corpus.wav_folder and the ``sarl render`` command line (sarl_hf.cli)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import run_cli

from sarl_hf import cli
from sarl_hf.acoustics.formats import FORMATS
from sarl_hf.corpus.summary import format_summary, summarise
from sarl_hf.corpus.wav_folder import corpus_specs, render_corpus
from sarl_hf.rendering.renderer import Renderer
from sarl_hf.scene.balanced import design
from sarl_hf.scene.factors import FACTORS, FactorConfig
from sarl_hf.scene.spec import SceneSpec
from sarl_hf.sources import ProceduralBank
from sarl_hf.splits import SPLITS

REPO = Path(__file__).resolve().parents[2]
SIZES = {"train": 6, "validation": 3, "test": 3}
FORMATS_USED = {"mono": 1, "stereo": 2}
ARGS = ["--train", "6", "--validation", "3", "--test", "3", "--formats", "mono,stereo",
        "--duration", "0.5", "--no-progress"]


def render_args(out: Path, *extra) -> list[str]:
    return ["render", "--out", str(out), *ARGS, *extra]


def expected_stems(seed: int = 0) -> dict:
    """split -> scene ids the design gives for the CLI's sizes."""
    bank = ProceduralBank(seed=seed)
    return {split: [s.scene_id for s in design(n, split=split, seed=seed, bank=bank)]
            for split, n in SIZES.items()}


def snapshot(root: Path, hidden: bool = False) -> dict:
    """relative path -> (bytes, mtime_ns) of every file under root."""
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()
            and (hidden or not any(part.startswith(".") for part in p.relative_to(root).parts))}


def contents(snap: dict) -> dict:
    """relative path -> bytes."""
    return {k: v[0] for k, v in snap.items()}


def summary_block(stdout: str) -> str:
    """The printed summary without the timing line."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("scenes per format"))
    end = next(i for i, line in enumerate(lines) if " scenes rendered, " in line)
    return "\n".join(lines[start:end])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """One CLI run: (folder, exit code, stdout, stderr, snapshot right after)."""
    out = tmp_path_factory.mktemp("cli") / "corpus"
    code, stdout, stderr = run_cli(render_args(out))
    return out, code, stdout, stderr, snapshot(out, hidden=True)


# --- the first run -------------------------------------------------------------------------

def test_render_writes_every_scene_in_every_format(corpus):
    out, code, stdout, stderr, _ = corpus
    assert code == 0, stderr
    stems = expected_stems()
    expected = {"corpus.json"}
    for fmt in FORMATS_USED:
        for split, ids in stems.items():
            for scene_id in ids:
                expected |= {f"{fmt}/{split}/{scene_id}.wav", f"{fmt}/{split}/{scene_id}.json"}
    found = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert found == expected  # and nothing else: no temporary files left behind
    assert f"{2 * sum(SIZES.values())} scenes rendered, 0 found complete" in stdout


def test_wav_files_have_the_format_channels(corpus):
    out = corpus[0]
    for fmt, channels in FORMATS_USED.items():
        for wav in (out / fmt).rglob("*.wav"):
            info = sf.info(str(wav))
            assert info.channels == channels, wav
            assert info.samplerate == 16000
            assert info.frames == 8000  # 0.5 s
            assert info.subtype == "FLOAT"
            audio, _ = sf.read(str(wav), dtype="float32", always_2d=True)
            assert np.all(np.isfinite(audio)) and np.abs(audio).max() > 0


def test_json_holds_the_spec_and_its_labels(corpus):
    out = corpus[0]
    bank = ProceduralBank(seed=0)
    for split, n in SIZES.items():
        for spec in design(n, split=split, seed=0, bank=bank, duration_s=0.5):
            for fmt in FORMATS_USED:
                record = json.loads((out / fmt / split / f"{spec.scene_id}.json").read_text())
                assert record["spec"] == spec.with_format(fmt).to_dict()
                assert SceneSpec.from_dict(record["spec"]).channel_format == fmt
                labels = record["labels"]
                for factor in ("azimuth", "elevation", "distance", "class"):
                    assert labels[factor] == spec.sources[0].levels[factor]
                for factor in ("rt60", "volume", "shape"):
                    assert labels[factor] == spec.levels[factor]
                assert labels["clip_id"] == spec.sources[0].clip_id
                assert labels["rt60_target_s"] == spec.room.rt60_s
                assert labels["distance_m"] == pytest.approx(spec.sources[0].distance_m)
            # labels describe the scene, not the format: identical across formats
            mono, stereo = (json.loads((out / f / split / f"{spec.scene_id}.json").read_text())
                            ["labels"] for f in FORMATS_USED)
            assert mono == stereo


def test_corpus_json_describes_the_run(corpus):
    description = json.loads((corpus[0] / "corpus.json").read_text())
    assert description["sizes"] == SIZES
    assert description["seed"] == 0
    assert description["formats"] == list(FORMATS_USED)
    assert description["duration_s"] == 0.5


def test_summary_says_balanced_for_every_factor(corpus):
    stdout = corpus[2]
    factor_lines = [line for line in stdout.splitlines()
                    if len(line.split()) > 2 and line.split()[0] in SPLITS
                    and line.split()[1] in FACTORS]
    assert len(factor_lines) == len(SPLITS) * len(FACTORS)
    assert all(line.rstrip().endswith(" balanced") for line in factor_lines), factor_lines
    assert "UNBALANCED" not in stdout
    for fmt in FORMATS_USED:
        expected = ", ".join(f"{split} {n}" for split, n in SIZES.items())
        assert f"  {fmt:9s} {expected}" in stdout.splitlines()


def test_summary_flags_unbalanced_levels():
    rows = [dict({f: 0 for f in FACTORS}, channel_format="mono", split="train", rt60_s=0.5,
                 rt60_target_s=0.5, drr_db=0.0) for _ in range(3)]
    num_levels = {f: 2 for f in FACTORS}
    text = format_summary(summarise(rows, num_levels))
    assert text.count("UNBALANCED") == len(FACTORS)
    assert "[3, 0]" in text


# --- reruns --------------------------------------------------------------------------------

def test_identical_rerun_renders_nothing(corpus, tmp_path):
    out, _, first_stdout, _, _ = corpus
    before = snapshot(out, hidden=True)
    code, stdout, stderr = run_cli(render_args(out))
    assert code == 0, stderr
    assert snapshot(out, hidden=True) == before  # same bytes, same mtimes
    assert summary_block(stdout) == summary_block(first_stdout)
    assert f"0 scenes rendered, {2 * sum(SIZES.values())} found complete" in stdout


def test_rerun_with_another_seed_is_refused(corpus):
    out = corpus[0]
    before = snapshot(out, hidden=True)
    code, stdout, stderr = run_cli(render_args(out, "--seed", "1"))
    assert code == 2
    assert str(out) in stderr and "error" in stderr
    assert snapshot(out, hidden=True) == before


def _interrupt(folder: Path) -> tuple[set, Path]:
    """Damage a finished corpus the way a killed run would leave it.

    Returns the damaged scenes (relative stems) and the stray temporary file.
    """
    stems = expected_stems()
    damaged = {f"mono/train/{stems['train'][1]}", f"mono/train/{stems['train'][4]}",
               f"stereo/test/{stems['test'][2]}"}
    for stem in damaged:
        (folder / f"{stem}.json").unlink()
    truncated = f"stereo/validation/{stems['validation'][0]}"
    wav = folder / f"{truncated}.wav"
    wav.write_bytes(wav.read_bytes()[:100])  # truncated, and its JSON never written
    (folder / f"{truncated}.json").unlink()
    stray = folder / "mono" / "train" / f".{stems['train'][2]}.wav.abc123.part"
    stray.write_bytes(b"RIFF")  # a temporary file a killed run left behind
    return damaged | {truncated}, stray


def test_interrupted_cli_run_resumes_to_identical_files(corpus, tmp_path):
    reference = corpus[4]
    folder = tmp_path / "resumed"
    assert run_cli(render_args(folder))[0] == 0
    _interrupt(folder)
    code, stdout, stderr = run_cli(render_args(folder))
    assert code == 0, stderr
    assert contents(snapshot(folder)) == contents(reference)


# --- render_corpus resume, at the library level --------------------------------------------

class InterruptingRenderer(Renderer):
    """The real renderer, stopped (as by Ctrl-C) before its ``stop_after + 1``-th scene."""

    def __init__(self, stop_after: int, **kwargs):
        super().__init__(**kwargs)
        self.stop_after, self.calls = stop_after, 0

    def render(self, spec):
        if self.calls >= self.stop_after:
            raise KeyboardInterrupt
        self.calls += 1
        return super().render(spec)


@pytest.fixture(scope="module")
def library_specs():
    config = FactorConfig()
    return corpus_specs(SIZES, 0, config, ProceduralBank(), duration_s=0.5)


DESCRIPTION = {"seed": 0, "sizes": SIZES}


def test_render_corpus_resumes_after_damage(library_specs, tmp_path):
    bank = ProceduralBank()
    full, resumed = tmp_path / "full", tmp_path / "resumed"
    rows = render_corpus(full, library_specs, list(FORMATS_USED), Renderer(bank=bank),
                         DESCRIPTION, progress=False)
    assert len(rows) == 2 * len(library_specs)
    assert {r["channel_format"] for r in rows} == set(FORMATS_USED)
    render_corpus(resumed, library_specs, list(FORMATS_USED), Renderer(bank=bank),
                  DESCRIPTION, progress=False)
    assert contents(snapshot(resumed)) == contents(snapshot(full))  # deterministic
    damaged, stray = _interrupt(resumed)
    before = snapshot(resumed)
    counting = InterruptingRenderer(stop_after=10 ** 6, bank=bank)
    rows2 = render_corpus(resumed, library_specs, list(FORMATS_USED), counting, DESCRIPTION,
                          progress=False)
    assert counting.calls == len(damaged) == 4  # exactly the damaged scenes
    assert contents(snapshot(resumed)) == contents(snapshot(full))
    after = snapshot(resumed)
    for key in before:  # everything else is not rewritten
        if key.rsplit(".", 1)[0] not in damaged:
            assert after[key] == before[key], key
    assert [Path(r["path"]).relative_to(resumed) for r in rows2] == [
        Path(r["path"]).relative_to(full) for r in rows]
    assert [r["clip_id"] for r in rows2] == [r["clip_id"] for r in rows]


def test_render_corpus_resumes_after_a_real_interruption(library_specs, tmp_path):
    bank = ProceduralBank()
    full, cut = tmp_path / "full", tmp_path / "cut"
    render_corpus(full, library_specs, list(FORMATS_USED), Renderer(bank=bank), DESCRIPTION,
                  progress=False)
    with pytest.raises(KeyboardInterrupt):
        render_corpus(cut, library_specs, list(FORMATS_USED),
                      InterruptingRenderer(stop_after=7, bank=bank), DESCRIPTION,
                      progress=False)
    partial = snapshot(cut, hidden=True)
    assert len([k for k in partial if k.endswith(".json") and k != "corpus.json"]) == 7
    assert not [k for k in partial if "/." in k], "temporary files left behind"
    again = InterruptingRenderer(stop_after=10 ** 6, bank=bank)
    render_corpus(cut, library_specs, list(FORMATS_USED), again, DESCRIPTION, progress=False)
    assert again.calls == 2 * len(library_specs) - 7
    assert contents(snapshot(cut, hidden=True)) == contents(snapshot(full, hidden=True))


def test_resume_removes_stray_temporary_files(library_specs, tmp_path):
    folder = tmp_path / "c"
    render_corpus(folder, library_specs, list(FORMATS_USED), Renderer(), DESCRIPTION,
                  progress=False)
    _, stray = _interrupt(folder)
    render_corpus(folder, library_specs, list(FORMATS_USED), Renderer(), DESCRIPTION,
                  progress=False)
    assert not stray.exists()


def test_render_corpus_refuses_another_description(library_specs, tmp_path):
    folder = tmp_path / "c"
    render_corpus(folder, library_specs[:2], ["mono"], Renderer(), DESCRIPTION,
                  progress=False)
    with pytest.raises(ValueError, match=str(folder)):
        render_corpus(folder, library_specs[:2], ["mono"], Renderer(),
                      dict(DESCRIPTION, seed=1), progress=False)


def test_render_corpus_rerenders_a_scene_whose_spec_changed(library_specs, tmp_path):
    folder = tmp_path / "c"
    specs = library_specs[:2]
    render_corpus(folder, specs, ["mono"], Renderer(), DESCRIPTION, progress=False)
    json_path = folder / "mono" / specs[0].split / f"{specs[0].scene_id}.json"
    record = json.loads(json_path.read_text())
    record["spec"]["seed"] += 1  # a stale record from another spec
    json_path.write_text(json.dumps(record))
    counting = InterruptingRenderer(stop_after=10 ** 6)
    render_corpus(folder, specs, ["mono"], counting, DESCRIPTION, progress=False)
    assert counting.calls == 1
    assert json.loads(json_path.read_text())["spec"] == specs[0].to_dict()


# --- usage errors and the module entry point -----------------------------------------------

def test_unknown_format_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["render", "--out", str(tmp_path / "x"), "--formats", "mono,surround"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "surround" in err
    assert all(name in err for name in FORMATS)
    assert not (tmp_path / "x").exists()


def test_missing_out_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["render", "--train", "2"])
    assert exc.value.code == 2
    assert "--out" in capsys.readouterr().err


def test_module_entry_point_matches_in_process_run(corpus, tmp_path):
    out = tmp_path / "sub"
    env = dict(os.environ, HF_HUB_OFFLINE="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO),
                                                        os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-m", "sarl_hf.cli", *render_args(out)],
                          capture_output=True, text=True, env=env, cwd=str(tmp_path),
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert summary_block(proc.stdout) == summary_block(corpus[2])
    # same arguments in another process: the same bytes
    assert contents(snapshot(out, hidden=True)) == contents(corpus[4])


def test_same_scene_gives_the_same_wav_bytes(library_specs, tmp_path):
    specs = library_specs[:1]
    render_corpus(tmp_path / "a", specs, ["mono"], Renderer(), DESCRIPTION, progress=False)
    time.sleep(1.1)  # a time stamp in the file (as libsndfile's PEAK chunk has) would differ
    render_corpus(tmp_path / "b", specs, ["mono"], Renderer(), DESCRIPTION, progress=False)
    a, b = snapshot(tmp_path / "a"), snapshot(tmp_path / "b")
    assert set(a) == set(b) and len(a) == 3
    assert contents(a) == contents(b)


def test_render_from_a_folder_of_recordings(tmp_path):
    import soundfile as sf

    root = tmp_path / "recordings"
    for c, freq_hz in enumerate([220.0, 440.0, 880.0]):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(5):
            t = np.arange(22050) / 22050
            sf.write(root / f"class{c}" / f"{i}.wav", np.sin(2 * np.pi * freq_hz * (1 + i / 50) * t)
                     .astype(np.float32) * 0.3, 22050)
    out = tmp_path / "corpus"
    code, stdout, stderr = run_cli(["render", "--out", str(out), "--train", "6", "--validation",
                                    "3", "--test", "3", "--duration", "0.5", "--no-progress",
                                    "--sources", f"folder:{root}"])
    assert code == 0, stderr
    assert "folder bank, 3 classes" in stdout
    records = [json.loads(p.read_text()) for p in out.rglob("*.json") if p.name != "corpus.json"]
    assert len(records) == 12
    assert {r["labels"]["class_name"] for r in records} == {"class0", "class1", "class2"}


def test_missing_recordings_folder_is_a_clear_error(tmp_path):
    code, _, stderr = run_cli(["render", "--out", str(tmp_path / "c"), "--sources",
                               f"folder:{tmp_path / 'nowhere'}"])
    assert code == 2 and "nowhere" in stderr
