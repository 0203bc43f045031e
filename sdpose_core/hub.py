"""Hugging Face Hub downloads on first use; offline, a short error naming the file, its URL and the folder for it.

Before a download starts, :func:`offline_reason` answers within a few seconds whether the hub can be reached
(``HF_HUB_OFFLINE`` set, or no TCP connection to the hub host), so an offline machine gets the message at once
instead of after the hub client's retries.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

from .errors import DownloadError

DEFAULT_ENDPOINT = "https://huggingface.co"
PROBE_SECONDS = 3.0
_TRUE = ("1", "true", "yes", "on")


def endpoint() -> str:
    """The hub the downloads use: $HF_ENDPOINT (a mirror) or huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def offline_reason(timeout: float = PROBE_SECONDS) -> str | None:
    """Why the hub cannot be reached now ('HF_HUB_OFFLINE is set', 'no connection to ...'), or None when it can.

    With a proxy configured the direct probe would say nothing about the proxy, so only HF_HUB_OFFLINE counts.
    The probe runs in a daemon thread so a hanging name lookup cannot hold the caller past ``timeout``.
    """
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE:
        return "HF_HUB_OFFLINE is set"
    if any(os.environ.get(name) for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    url = urlparse(endpoint())
    host, port = url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)
    result: dict[str, object] = {}

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result["ok"] = True
        except OSError as exc:
            result["error"] = exc

    thread = threading.Thread(target=probe, name="sdpose-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    if result.get("ok"):
        return None
    error = result.get("error")
    detail = f": {getattr(error, 'strerror', None) or error}" if error else f" within {timeout:g} s"
    return f"no connection to {host}{detail}"


def file_url(repo_id: str, filename: str) -> str:
    return f"{endpoint()}/{repo_id}/resolve/main/{filename}"


def missing_message(what: str, url: str, folder: Path, reason: str) -> str:
    """The one message for a file that is not here and cannot be downloaded: what, where from, where to."""
    return (f"{what} is not installed and could not be downloaded ({reason}). Download it from {url} and put it in "
            f"'{folder}', then run again.")


def _short(cause: BaseException) -> str:
    text = " ".join(str(cause).split())
    return f"{type(cause).__name__}: {text[:160]}{'...' if len(text) > 160 else ''}"


def download_file(repo_id: str, filename: str, local_dir: str | Path) -> Path:
    """Return ``local_dir/filename``, downloading it from ``repo_id`` when it is not there yet."""
    local_dir = Path(local_dir)
    target = local_dir / filename
    if target.is_file():
        return target
    what = f"'{filename}'"
    reason = offline_reason()
    if reason is not None:
        raise DownloadError(missing_message(what, file_url(repo_id, filename), local_dir, reason))
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(repo_id=repo_id, filename=filename, local_dir=str(local_dir)))
    except Exception as exc:  # network, auth and offline failures all land here
        raise DownloadError(missing_message(what, file_url(repo_id, filename), local_dir, _short(exc))) from exc


def download_snapshot(repo_id: str, local_dir: str | Path, allow_patterns: list[str] | None = None) -> Path:
    """Return ``local_dir`` holding a snapshot of ``repo_id``, downloading what is missing."""
    local_dir = Path(local_dir)
    parts = f" ({', '.join(allow_patterns)})" if allow_patterns else " (every file, keeping its sub-folders)"
    what, url = f"The model folder '{repo_id}'{parts}", f"{endpoint()}/{repo_id}/tree/main"
    reason = offline_reason()
    if reason is not None:
        raise DownloadError(missing_message(what, url, local_dir, reason))
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=repo_id, local_dir=str(local_dir), allow_patterns=allow_patterns))
    except Exception as exc:
        raise DownloadError(missing_message(what, url, local_dir, _short(exc))) from exc
