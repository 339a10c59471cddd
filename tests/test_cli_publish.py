"""``sarl publish`` and ``sarl --version``: dry runs list what would go, a refused upload
is one line and exit 2, a bad argument is refused before anything is built."""

from __future__ import annotations

import configparser

import httpx2
import pytest
from conftest import REPO
from conftest import run_cli
from huggingface_hub.errors import HfHubHTTPError

import sarl_hf

CARD = REPO / "model_cards" / "sarl-spatial" / "README.md"


class RefusingApi:
    """An ``HfApi`` the Hub refuses: the token cannot write."""

    def __init__(self, token=None):
        pass

    def create_repo(self, *args, **kwargs):
        request = httpx2.Request("POST", "https://huggingface.co/api/repos/create")
        raise HfHubHTTPError("401 Unauthorized: invalid token\n\nRequest ID: x",
                             response=httpx2.Response(401, request=request))

    upload_folder = create_repo


def _listed(out: str) -> list[str]:
    return [line.split()[-1] for line in out.splitlines() if line[:14].strip().replace(
        ",", "").isdigit()]


def test_version_is_the_package_version():
    code, out, _ = run_cli(["--version"])
    setup = configparser.ConfigParser()
    setup.read(REPO / "setup.cfg")
    assert code == 0 and out.strip() == f"sarl {sarl_hf.__version__}"
    assert sarl_hf.__version__ == setup["metadata"]["version"]


def test_dry_run_of_a_model_card_lists_one_file():
    code, out, err = run_cli(["publish", "model", str(CARD), "--repo-id", "me/sarl-spatial",
                              "--dry-run"])
    assert code == 0, err
    assert _listed(out) == ["README.md"]
    assert out.splitlines()[-1].startswith("would upload 1 files") and "models/me/" in out


def test_dry_run_of_the_corpus_lists_card_manifest_and_shards(tiny_corpus):
    code, out, err = run_cli(["publish", "dataset", str(tiny_corpus), "--dry-run"])
    assert code == 0, err
    shards = sorted(p.relative_to(tiny_corpus).as_posix()
                    for p in tiny_corpus.glob("data/*/*.parquet"))
    assert sorted(_listed(out)) == sorted(["README.md", "manifest.json", *shards])
    assert "(no --repo-id given)" in out


def test_dry_run_of_the_evaluate_module_builds_its_space(tmp_path):
    source = (REPO / "spaces" / "sarl_probe" / "sarl_probe.py").read_text()
    code, out, err = run_cli(["publish", "evaluate", "--repo-id", "me/probe", "--out",
                              str(tmp_path), "--dry-run"])
    assert code == 0, err
    listed = _listed(out)
    assert {"app.py", "README.md", "sarl_probe.py", "requirements.txt", "LICENSE",
            "sarl_hf/__init__.py", "sarl_hf/probing/protocol.py"} <= set(listed)
    built = (tmp_path / "sarl_probe" / "sarl_probe.py").read_text()
    assert 'SPACE_ID = "me/probe"' in built and built != source
    assert (REPO / "spaces" / "sarl_probe" / "sarl_probe.py").read_text() == source
    assert f"built {tmp_path / 'sarl_probe'}" in out and "spaces/me/probe" in out


@pytest.mark.parametrize("argv", [
    ["publish", "space", "sarl_explorer", "--repo-id", "me/explorer"],
    ["publish", "model", str(CARD), "--repo-id", "me/sarl-spatial"],
])
def test_a_refused_upload_is_one_line_and_exit_2(argv, tmp_path, monkeypatch):
    monkeypatch.setattr("huggingface_hub.HfApi", RefusingApi)
    code, out, err = run_cli(argv + (["--out", str(tmp_path)] if "space" in argv else []))
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("sarl publish: error: upload to ")
    assert err.rstrip().endswith("the Hub answered 401 Unauthorized: invalid token")


def test_a_refused_corpus_upload_is_one_line(tiny_corpus, monkeypatch):
    monkeypatch.setattr("huggingface_hub.HfApi", RefusingApi)
    code, _, err = run_cli(["publish", "dataset", str(tiny_corpus), "--repo-id", "me/sarl"])
    assert code == 2 and err == ("sarl publish: error: upload to datasets/me/sarl: the Hub "
                                 "answered 401 Unauthorized: invalid token\n")


def test_offline_mode_refuses_an_upload_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    code, out, err = run_cli(["publish", "evaluate", "--repo-id", "me/probe", "--out",
                              str(tmp_path)])
    assert code == 2 and err == ("sarl publish: error: upload to spaces/me/probe: the Hub is "
                                 "switched off here (HF_HUB_OFFLINE is set); nothing was "
                                 "sent\n")
    assert (tmp_path / "sarl_probe" / "app.py").is_file()  # built before the upload


@pytest.mark.parametrize("argv, message", [
    (["publish", "dataset", "/no/such/corpus", "--dry-run"], "no corpus folder /no/such"),
    (["publish", "space", "sarl_probe"], "an upload needs the repository: pass --repo-id"),
    (["publish", "space", "sarl_nothing", "--dry-run"], "invalid choice: 'sarl_nothing'"),
    (["publish", "model", str(REPO / "setup.cfg"), "--dry-run"], "a model card is a README.md"),
    (["publish", "model", str(REPO / "docs"), "--dry-run"], "has no README.md model card"),
    (["publish", "dataset", str(REPO / "docs"), "--repo-id", "me/sarl", "--dry-run"], "docs"),
    (["publish", "model", str(CARD), "--repo-id", "not-an-id", "--dry-run"], "owner/name"),
])
def test_bad_arguments_are_refused(argv, message, monkeypatch):
    monkeypatch.setattr("huggingface_hub.HfApi", RefusingApi)
    code, out, err = run_cli(argv)
    assert code == 2 and message in err and err.count("\n") == 1
