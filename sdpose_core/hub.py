"""Hugging Face Hub downloads on first use, with an error that says where to put files when offline."""

from __future__ import annotations

from pathlib import Path

from .errors import DownloadError


def _offline_message(what: str, repo_id: str, target: Path, cause: BaseException) -> str:
    reason = " ".join(str(cause).split())[:300]
    return (
        f"Could not download {what} from the Hugging Face Hub repository '{repo_id}' ({type(cause).__name__}: {reason}). "
        f"If this machine is offline, download it elsewhere and place it at '{target}', "
        "or pass a local path instead of a hub id."
    )


def download_file(repo_id: str, filename: str, local_dir: str | Path) -> Path:
    """Return ``local_dir/filename``, downloading it from ``repo_id`` when it is not there yet."""
    local_dir = Path(local_dir)
    target = local_dir / filename
    if target.is_file():
        return target
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(repo_id=repo_id, filename=filename, local_dir=str(local_dir)))
    except Exception as exc:  # network, auth and offline failures all land here
        raise DownloadError(_offline_message(f"'{filename}'", repo_id, target, exc)) from exc


def download_snapshot(repo_id: str, local_dir: str | Path, allow_patterns: list[str] | None = None) -> Path:
    """Return ``local_dir`` holding a snapshot of ``repo_id``, downloading what is missing."""
    local_dir = Path(local_dir)
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=repo_id, local_dir=str(local_dir), allow_patterns=allow_patterns))
    except Exception as exc:
        raise DownloadError(_offline_message("the model folder", repo_id, local_dir, exc)) from exc
