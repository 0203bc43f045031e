"""Files that appear whole or not at all, and signals that cannot cut a publication in half.

One temporary-name convention for everything written here (``.<name>.tmp<pid><suffix>``, hidden, next to the
target, so the final rename never crosses a file system), single files written atomically, JSON that is always
valid (never NaN or Infinity), and :class:`OutputSet`: several outputs staged in a hidden folder and moved into
place together. :func:`handle_signals` turns SIGINT and SIGTERM into :class:`Interrupted` (a KeyboardInterrupt,
so every ``finally`` cleans up) and :func:`critical` holds them back while a set is being moved into place.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import threading
from pathlib import Path
from typing import Any, Callable, Collection, Iterator

from .errors import InputError


def temp_path(path: str | Path) -> Path:
    """The hidden temporary sibling of ``path`` for this process (keeps the suffix, so writers infer the format)."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp{os.getpid()}{path.suffix}")


def remove(path: str | Path) -> None:
    """Delete a file or a folder tree if it exists."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def move_into_place(src: Path, dst: Path, *, replace: bool) -> None:
    """Rename ``src`` (file or folder) to ``dst``. Without ``replace`` an existing ``dst`` is never touched: files
    are linked (which fails atomically when the name is taken), folders renamed only when the name is free."""
    if replace:
        if dst.is_dir() and not dst.is_symlink() and src.is_dir():
            old = temp_path(dst.with_name(dst.name + ".old"))
            os.replace(dst, old)
            os.replace(src, dst)
            remove(old)
        else:
            if dst.is_dir() and not dst.is_symlink():
                remove(dst)
            os.replace(src, dst)
        return
    if src.is_dir():
        if dst.exists() or dst.is_symlink():
            raise FileExistsError(dst)
        os.rename(src, dst)
        return
    os.link(src, dst)
    src.unlink()


def write_atomic(path: str | Path, write: Callable[[Path], Any], *, replace: bool = True) -> Path:
    """Call ``write(tmp)`` and rename the result to ``path``; on any failure nothing is left behind.

    Without ``replace`` an existing ``path`` is kept and :class:`InputError` is raised.
    """
    path = Path(path)
    tmp = temp_path(path)
    try:
        write(tmp)
        with critical():
            try:
                move_into_place(tmp, path, replace=replace)
            except FileExistsError:
                raise InputError(f"'{path}' already exists; it was left untouched.") from None
    finally:
        remove(tmp)
    return path


def dumps_json(data: Any) -> str:
    """JSON text, refusing NaN and Infinity (which no JSON reader accepts)."""
    try:
        return json.dumps(data, allow_nan=False)
    except ValueError as exc:
        raise InputError(f"refusing to write NaN or infinite numbers into JSON ({exc}).") from None


def write_json(path: str | Path, data: Any, *, replace: bool = True) -> Path:
    """Write ``data`` as valid JSON, atomically."""
    text = dumps_json(data)
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), replace=replace)


class OutputSet:
    """Outputs staged, then moved into their destination together (or dropped together).

    Staged in a folder of their own (``tag`` None: created here, removed when published), or, cheaper for many
    small sets, as ``<tag>~<name>`` entries of a shared staging folder (``tag``: unique, without ``~``).
    """

    def __init__(self, stage: str | Path, tag: str | None = None):
        self.stage = Path(stage)
        self.tag = tag
        self.stage.mkdir(parents=True, exist_ok=tag is not None)

    @property
    def _prefix(self) -> str:
        return f"{self.tag}~" if self.tag is not None else ""

    def path(self, name: str) -> Path:
        """Where to write the output ``name`` while it is staged."""
        return self.stage / f"{self._prefix}{name}"

    def names(self) -> list[str]:
        """The staged outputs, sorted (temporary files still being written excluded)."""
        prefix = self._prefix
        return sorted(p.name[len(prefix):] for p in self.stage.iterdir()
                      if p.name.startswith(prefix) and not p.name.startswith("."))

    def publish(self, dest: str | Path, *, replace: Collection[str] = ()) -> list[Path]:
        """Move every staged output into ``dest``; only names in ``replace`` may overwrite an existing entry.

        Checked before anything moves: when a name is taken, nothing is published and :class:`InputError` says so.
        """
        dest = Path(dest)
        names = self.check(dest, replace=replace)
        with critical():
            for name in names:
                move_into_place(self.path(name), dest / name, replace=name in replace)
            if self.tag is None:
                remove(self.stage)
        return [dest / n for n in names]

    def check(self, dest: str | Path, *, replace: Collection[str] = ()) -> list[str]:
        """The staged names, after checking that none would overwrite an entry of ``dest`` outside ``replace``."""
        names = self.names()
        taken = [n for n in names if n not in replace and ((Path(dest) / n).exists() or (Path(dest) / n).is_symlink())]
        if taken:
            raise InputError(f"'{Path(dest) / taken[0]}' already exists and was not written by this job; "
                             "it was left untouched (move it away and rerun).")
        return names

    def discard(self) -> None:
        if self.tag is None:
            remove(self.stage)
        else:
            for name in self.names():
                remove(self.path(name))


# ------------------------------------------------------------------------------------------------------ signals
class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; raised in the main thread so that every cleanup runs."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_deferral = {"depth": 0, "pending": None}


def _on_signal(signum: int, frame: Any) -> None:
    if _deferral["depth"]:
        _deferral["pending"] = signum
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def handle_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` inside this block (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def critical() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back until the block ends (a few renames), then act on them."""
    _deferral["depth"] += 1
    try:
        yield
    finally:
        _deferral["depth"] -= 1
        pending = _deferral["pending"]
        if not _deferral["depth"] and pending is not None:
            _deferral["pending"] = None
            raise Interrupted(pending)
