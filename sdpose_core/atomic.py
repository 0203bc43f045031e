"""Files that appear whole or not at all, and signals that cannot cut a publication in half.

One temporary-name convention for everything written here (``.<name>.tmp<pid>[-<n>]<suffix>``, hidden, next to
the target, so the final rename never crosses a file system), single files or folders written atomically (by a
function given the temporary path, or streamed into a temporary file created exclusively), JSON that is always
valid (never NaN or Infinity), and :class:`OutputSet`: several outputs staged in a hidden folder and moved into
place together. :func:`handle_signals` turns SIGINT and SIGTERM into :class:`Interrupted` (a KeyboardInterrupt,
so every ``finally`` cleans up) and :func:`critical` holds them back while a set is being moved into place.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import reprlib
import shutil
import signal
import threading
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import IO, Any

from .errors import InputError

_calls = itertools.count()  # makes temporary names unique between threads of one process
_TRIES = 100
_NAME_MAX = 255  # bytes in one file name (Linux, macOS, Windows file systems)


class AlreadyExists(InputError):
    """The target of a write that must not replace anything exists; nothing was written."""


def check_file_name(path: str | Path) -> Path:
    """``path``, when a file system can hold its name (no NUL, at most 255 bytes); else an InputError."""
    path = Path(path)
    size = len(os.fsencode(path.name)) if "\x00" not in str(path) else -1
    if not 0 <= size <= _NAME_MAX:
        problem = "holds a NUL character" if size < 0 else f"is {size} bytes long (at most {_NAME_MAX})"
        raise InputError(f"Cannot write '{reprlib.repr(str(path))}': the file name {problem}; choose another name.")
    return path


def temp_path(path: str | Path, unique: bool = False) -> Path:
    """The hidden temporary sibling of ``path`` for this process (keeps the suffix, so writers infer the format);
    ``unique``: also distinct from every other call in this process (concurrent writers of one target).

    A target name the file system cannot hold (a NUL, over 255 bytes) is an InputError here, before anything is
    written; a long but valid one gets a short temporary name (a digest of it), so the limit is the target's own.
    """
    path = check_file_name(path)
    tag = f"-{next(_calls)}" if unique else ""
    name = f".{path.name}.tmp{os.getpid()}{tag}{path.suffix}"
    if len(os.fsencode(name)) > _NAME_MAX:
        digest = hashlib.sha256(os.fsencode(path.name)).hexdigest()[:16]
        suffix = path.suffix if len(os.fsencode(path.suffix)) <= 16 else ""
        name = f".{digest}.tmp{os.getpid()}{tag}{suffix}"
    return path.with_name(name)


def remove(path: str | Path) -> None:
    """Delete a file or a folder tree if it exists."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def move_into_place(src: Path, dst: Path, *, replace: bool) -> None:
    """Rename ``src`` (file or folder) to ``dst``. Without ``replace`` an existing ``dst`` is never touched: files
    are linked (which fails atomically when the name is taken), folders renamed only when the name is free. With
    ``replace`` a folder replaces a folder and a file a file; a file never replaces a folder (InputError)."""
    if replace:
        _check_kind(src, dst)
        if dst.is_dir() and not dst.is_symlink():
            old = temp_path(dst.with_name(dst.name + ".old"))
            os.replace(dst, old)
            os.replace(src, dst)
            remove(old)
        else:
            os.replace(src, dst)
        return
    if src.is_dir():
        if dst.exists() or dst.is_symlink():
            raise FileExistsError(dst)
        os.rename(src, dst)
        return
    os.link(src, dst)
    src.unlink()


def _check_kind(src: Path, dst: Path) -> None:
    """A file must not replace a folder (that would delete everything in it), nor a folder a file."""
    folder = dst.is_dir() and not dst.is_symlink()
    if folder != src.is_dir() and (dst.exists() or dst.is_symlink()):
        kind = "a folder" if folder else "a file"
        raise InputError(f"'{dst}' is {kind}, so it cannot be replaced by what was written; it was left untouched "
                         "(move it away, or choose another name).")


def publish(tmp: str | Path, path: str | Path, *, replace: bool = True) -> Path:
    """Move a finished temporary file or folder (written over time, e.g. a video) to ``path``, shielded from
    SIGINT/SIGTERM; without ``replace`` an existing ``path`` raises :class:`AlreadyExists` and ``tmp`` stays."""
    tmp, path = Path(tmp), Path(path)
    with critical():
        try:
            move_into_place(tmp, path, replace=replace)
        except FileExistsError:
            raise AlreadyExists(f"'{path}' already exists; it was left untouched.") from None
    return path


def write_atomic(path: str | Path, write: Callable[[Path], Any], *, replace: bool = True) -> Path:
    """Call ``write(tmp)`` (a file or a folder) and rename the result to ``path``; on any failure nothing is left.

    Without ``replace`` an existing ``path`` is kept and :class:`AlreadyExists` (an InputError) is raised.
    """
    path = Path(path)
    tmp = temp_path(path, unique=True)
    remove(tmp)  # a leftover of a crashed process that had the same id
    try:
        write(tmp)
        publish(tmp, path, replace=replace)
    finally:
        remove(tmp)
    return path


def open_temporary(path: str | Path, binary: bool = False) -> tuple[Path, IO]:
    """A fresh temporary file for ``path`` (its name, and the open file: text UTF-8, or ``binary``), created
    exclusively and never through a symbolic link; :func:`publish` it when complete, :func:`remove` it if not."""
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    for _ in range(_TRIES):
        tmp = temp_path(path, unique=True)
        try:
            fd = os.open(tmp, flags, 0o666)  # minus the umask, as open() would
        except FileExistsError:
            continue
        try:
            return tmp, (os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline=""))
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
    raise FileExistsError(f"could not create a temporary file next to '{path}' (names in the way).")


@contextlib.contextmanager
def atomic_file(path: str | Path, *, replace: bool = True, binary: bool = False) -> Iterator[IO]:
    """Stream into a temporary file (text UTF-8, or ``binary``) that becomes ``path`` when the block ends without
    an error; otherwise it is deleted. Without ``replace`` an existing ``path`` raises :class:`AlreadyExists`."""
    path = Path(path)
    tmp, out = open_temporary(path, binary)
    try:
        with out:
            yield out
        publish(tmp, path, replace=replace)
    finally:
        remove(tmp)


def dumps_json(data: Any) -> str:
    """JSON text, refusing NaN and Infinity (which no JSON reader accepts)."""
    try:
        return json.dumps(data, allow_nan=False)
    except ValueError as exc:
        raise InputError(f"refusing to write NaN or infinite numbers into JSON ({exc}).") from None
    except RecursionError:
        raise InputError("refusing to write JSON nested too deeply to be read back.") from None


def write_text(path: str | Path, text: str, *, replace: bool = True) -> Path:
    """Write ``text`` (UTF-8) atomically."""
    with atomic_file(path, replace=replace) as out:
        out.write(text)
    return Path(path)


def write_json(path: str | Path, data: Any, *, replace: bool = True) -> Path:
    """Write ``data`` as valid JSON, atomically."""
    return write_text(path, dumps_json(data), replace=replace)


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
        for name in names:
            if name in replace:
                _check_kind(self.path(name), Path(dest) / name)
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


_deferral = {"depth": 0, "pending": None, "last": None}


def _on_signal(signum: int, frame: Any) -> None:
    _deferral["last"] = signum
    if _deferral["depth"]:
        _deferral["pending"] = signum
        return
    raise Interrupted(signum)


def interrupting_signal(exc: KeyboardInterrupt) -> int:
    """The signal behind ``exc``: its own, or the last one :func:`handle_signals` caught (a library such as Ray may
    turn the :class:`Interrupted` raised inside its calls into a plain KeyboardInterrupt), else SIGINT."""
    if isinstance(exc, Interrupted):
        return exc.signum
    return _deferral["last"] or signal.SIGINT


@contextlib.contextmanager
def handle_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` inside this block (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _deferral["last"] = None
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
