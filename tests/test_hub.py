"""sdpose_core.hub: offline, a missing file is one short message (file, URL, folder), found before any download."""

from __future__ import annotations

import socket
import threading

import pytest

from sdpose_core import hub
from sdpose_core.errors import DownloadError


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_hf_hub_offline_names_file_url_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    with pytest.raises(DownloadError) as info:
        hub.download_file("yzd-v/DWPose", "yolox_l.onnx", tmp_path / "models")
    message = str(info.value)
    assert message == ("'yolox_l.onnx' is not installed and could not be downloaded (HF_HUB_OFFLINE is set). Download "
                       "it from https://huggingface.co/yzd-v/DWPose/resolve/main/yolox_l.onnx and put it in "
                       f"'{tmp_path / 'models'}', then run again.")
    with pytest.raises(DownloadError, match=r"tree/main and put it in '.*teemosliang--SDPose-Body'"):
        hub.download_snapshot("teemosliang/SDPose-Body", tmp_path / "teemosliang--SDPose-Body")
    assert not (tmp_path / "models").exists()


def test_unreachable_hub_is_found_by_the_probe(tmp_path, monkeypatch):
    """No HF_HUB_OFFLINE, but nothing answers at the hub's address: the probe says so and nothing is attempted."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for proxy in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    assert hub.offline_reason().startswith("no connection to 127.0.0.1")
    with pytest.raises(DownloadError, match=r"no connection to 127\.0\.0\.1.*resolve/main/yolox_l\.onnx"):
        hub.download_file("yzd-v/DWPose", "yolox_l.onnx", tmp_path)
    with socket.socket() as server:  # something listening: reachable
        server.bind(("127.0.0.1", 0))
        server.listen()
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert hub.offline_reason() is None


def test_a_hub_that_never_answers_is_given_up_on(tmp_path, monkeypatch):
    """A host that takes the connection attempt and never completes it: the probe gives up after its timeout and the
    download is not attempted. (A listening socket with a full accept queue drops further SYNs, so connecting hangs.)"""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for proxy in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    with socket.socket() as server, socket.socket() as queued:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        queued.connect(server.getsockname())  # fills the queue: never accepted
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert hub.offline_reason(timeout=0.3) == "no connection to 127.0.0.1: timed out"
        with pytest.raises(DownloadError, match=r"no connection to 127\.0\.0\.1: timed out.*/yolox_l\.onnx"):
            hub.download_file("yzd-v/DWPose", "yolox_l.onnx", tmp_path)
    assert not list(tmp_path.iterdir())


def test_a_probe_that_hangs_past_its_timeout_is_abandoned(monkeypatch):
    """A name lookup that never returns (socket's timeout does not cover it): the caller goes on without it."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for proxy in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.example")
    release = threading.Event()

    def hanging_lookup(*_args, **_kwargs):
        release.wait()
        raise OSError("released by the test")

    monkeypatch.setattr(hub.socket, "create_connection", hanging_lookup)
    try:
        assert hub.offline_reason(timeout=0.2) == "no connection to hub.example within 0.2 s"
    finally:
        release.set()
