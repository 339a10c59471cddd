"""Uploads: what a folder sends, dry runs that contact nothing, and every Hub failure as
one line (offline mode, an unreachable endpoint, the Hub refusing)."""

from __future__ import annotations

import socket

import httpx2
import pytest
from huggingface_hub.errors import HfHubHTTPError

from sarl_hf import cli
from sarl_hf.errors import HubError
from sarl_hf.publishing import hub
from sarl_hf.publishing import upload_folder


def _folder(tmp_path):
    folder = tmp_path / "model"
    (folder / "sub" / "__pycache__").mkdir(parents=True, exist_ok=True)
    (folder / "README.md").write_text("# card\n")
    (folder / "sub" / "weights.bin").write_bytes(b"\0" * 10)
    (folder / "sub" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"junk")
    (folder / "stale.pyc").write_bytes(b"junk")
    return folder


def _refusal(status=403, text="Forbidden: you have no write access to me/model"):
    request = httpx2.Request("POST", "https://huggingface.co/api/repos/create")
    response = httpx2.Response(status, request=request)
    return HfHubHTTPError(f"{status} {text}\n\nRequest ID: abc\nmore detail", response=response)


class RefusingApi:
    """An ``HfApi`` whose every call is refused by the Hub."""

    calls = []

    def __init__(self, token=None):
        self.calls.append("init")

    def create_repo(self, *args, **kwargs):
        raise _refusal()


class RecordingApi:
    """An ``HfApi`` that accepts everything and records what it was sent."""

    sent = []

    def __init__(self, token=None):
        self.sent.clear()

    def create_repo(self, repo_id, **kwargs):
        self.sent.append(("create_repo", repo_id, kwargs))

    def create_commit(self, repo_id, operations, **kwargs):
        self.sent.append(("create_commit", repo_id, sorted(
            (op.path_in_repo, open(op.path_or_fileobj, "rb").read()) for op in operations)))


class UntouchableApi:
    def __init__(self, *args, **kwargs):
        raise AssertionError("a dry run built an HfApi")


def test_folder_files_leave_caches_out(tmp_path):
    assert hub.folder_files(_folder(tmp_path)) == [("README.md", 7), ("sub/weights.bin", 10)]
    with pytest.raises(FileNotFoundError, match="no folder"):
        hub.folder_files(tmp_path / "absent")


def test_dry_run_contacts_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr("huggingface_hub.HfApi", UntouchableApi)
    files = upload_folder(_folder(tmp_path), "me/model", "model", dry_run=True)
    assert [path for path, _ in files] == ["README.md", "sub/weights.bin"]


def test_an_upload_sends_exactly_the_listed_files(tmp_path, monkeypatch):
    monkeypatch.setattr("huggingface_hub.HfApi", RecordingApi)
    folder = _folder(tmp_path)
    files = upload_folder(folder, "me/space", "space", private=True, space_sdk="gradio")
    (create, repo, options), (commit, same, sent) = RecordingApi.sent
    assert (create, repo, commit, same) == ("create_repo", "me/space", "create_commit",
                                            "me/space")
    assert options == {"repo_type": "space", "private": True, "exist_ok": True,
                       "space_sdk": "gradio"}
    assert [path for path, _ in sent] == [path for path, _ in files] == [
        "README.md", "sub/weights.bin"]
    assert dict(sent)["sub/weights.bin"] == (folder / "sub" / "weights.bin").read_bytes()


def test_bad_arguments_are_refused_before_the_hub(tmp_path, monkeypatch):
    monkeypatch.setattr("huggingface_hub.HfApi", UntouchableApi)
    for repo_id in ("model", "me/model/extra", "me/", "", "../x"):
        with pytest.raises(ValueError, match="owner/name"):
            upload_folder(_folder(tmp_path), repo_id, "model")
    with pytest.raises(ValueError, match="repo_type must be one of"):
        upload_folder(_folder(tmp_path), "me/model", "bucket")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no file"):
        upload_folder(tmp_path / "empty", "me/model", "model")


def test_a_hub_refusal_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr("huggingface_hub.HfApi", RefusingApi)
    with pytest.raises(HubError) as caught:
        upload_folder(_folder(tmp_path), "me/model", "model")
    message = str(caught.value)
    assert message == ("upload to models/me/model: the Hub answered 403 Forbidden: you have "
                       "no write access to me/model")
    assert caught.value.__suppress_context__  # no chained traceback


def test_offline_mode_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    with pytest.raises(HubError, match=r"^upload to models/me/model: the Hub is switched off "
                       r"here \(HF_HUB_OFFLINE is set\); nothing was sent$"):
        upload_folder(_folder(tmp_path), "me/model", "model", token="hf_fake")


def test_other_failures_pass_through_untouched():
    with pytest.raises(KeyError):
        with hub.hub_errors("anything"):
            raise KeyError("not a Hub failure")


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_hub_through_the_command_line(tmp_path, monkeypatch, capsys):
    """The real HfApi against an endpoint nothing listens on: exit 2, one line, no
    traceback."""
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setattr("huggingface_hub.constants.ENDPOINT",
                        f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("HF_TOKEN", "hf_fake")
    status = cli.main(["publish", "model", str(_folder(tmp_path)), "--repo-id", "me/model"])
    captured = capsys.readouterr()
    assert status == 2 and captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err
    assert lines[0].startswith("sarl publish: error: upload to models/me/model: the Hub is "
                               "unreachable (")
