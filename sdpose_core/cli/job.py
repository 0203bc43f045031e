"""Bookkeeping of a batch job in its output folder: resume, concurrent runs, and recovery after a crash.

Everything lives in ``OUT/.sdpose-job/``:

* ``records/<stem>.json`` — one per output name: which input it belongs to (absolute path), the input's size,
  mtime and content digest, the digest of the settings that shape the outputs, the output names, the COCO records,
  and a state: ``claimed`` (name reserved), ``publishing`` (outputs being moved into place), ``done`` or ``failed``.
  A record is written last, so ``done`` means the outputs are complete.
* ``runs/<token>.lock`` — held (``flock``) by a running process for its lifetime; a lock nobody holds belongs to a
  killed run, whose staged files are deleted and whose interrupted publication is finished by the next run.
* ``staging/<token>/`` — outputs being made, moved into ``OUT`` by :meth:`Job.publish` as one set.
* ``lock`` — held for the short moments a run plans names or publishes, so concurrent runs never take the same
  name for different inputs, and the same input is published once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import OutputSet, critical, move_into_place, remove, write_json
from ..errors import InputError

IMAGE_OUTPUTS = (".json", "_pose.png")
VIDEO_OUTPUTS = (".json", "_pose.mp4")
FRAMES_OUTPUT = "_frames"
FACE_OUTPUT = "_face.mp4"


def output_names(stem: str, video: bool, frames: bool, face: bool = False) -> list[str]:
    """The names an input's outputs get in the output folder (``frames``/``face``: with the optional ones)."""
    if not video:
        return [stem + s for s in IMAGE_OUTPUTS]
    return [stem + s for s in VIDEO_OUTPUTS + ((FRAMES_OUTPUT,) if frames else ()) + ((FACE_OUTPUT,) if face else ())]


MAX_STEM_BYTES = 200  # + a staging tag (17), a numbering ("-12") and the longest suffix keep names under 255 bytes


def short_stem(stem: str) -> str:
    """``stem``, or when its outputs' names (staged ones are longer) could pass the file system's 255 bytes, its
    first characters, ``~`` and a digest of the whole stem: a long input name gets a shorter, still unique,
    output name instead of failing."""
    if len(os.fsencode(stem)) <= MAX_STEM_BYTES:
        return stem
    digest = hashlib.blake2b(os.fsencode(stem), digest_size=4).hexdigest()
    head = stem
    while len(os.fsencode(head)) > MAX_STEM_BYTES - len(digest) - 1:
        head = head[:-1]
    return f"{head}~{digest}"


STATE_DIR = ".sdpose-job"
FAILURES_FILE = "sdpose_failures.txt"
CHUNK = 1 << 20


def file_digest(path: Path) -> str:
    """BLAKE2b of a file's content (hex)."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def fingerprint(path: Path) -> dict[str, Any]:
    """What identifies an input's content: size, mtime (ns) and content digest."""
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "digest": file_digest(path)}


def settings_digest(settings: Any) -> str:
    """Digest of the settings (any JSON-able value) that shape an input's outputs."""
    return hashlib.blake2b(json.dumps(settings, sort_keys=True, default=str).encode(), digest_size=16).hexdigest()


@dataclass
class Task:
    """One input to do: where it comes from and the output name (stem) it was given."""

    index: int  # position among the job's inputs
    path: Path
    video: bool
    stem: str
    fingerprint: dict[str, Any]
    settings: str  # digest
    replace: list[str] = field(default_factory=list)  # outputs of an earlier run for this input, to be replaced
    seen: str | None = None  # the record's publication id when planned (another id later: published meanwhile)


@dataclass
class Plan:
    todo: list[Task]
    skipped: list[Task]


class Job:
    """The job state of one output folder, for one running process (see the module docstring)."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.root = self.out / STATE_DIR
        self.records = self.root / "records"
        for d in (self.records, self.root / "runs", self.root / "staging"):
            d.mkdir(parents=True, exist_ok=True)
        self.token = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.staging = self.root / "staging" / self.token
        self._run_lock = open(self.root / "runs" / f"{self.token}.lock", "w")
        fcntl.flock(self._run_lock, fcntl.LOCK_EX)
        self.staging.mkdir()
        with self.locked():
            self._recover()

    # ------------------------------------------------------------------------------------------- locking
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive access to the records (all runs into this folder), for planning and publishing."""
        with open(self.root / "lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _recover(self) -> None:
        """Finish or clean up after runs that were killed (their run lock is free)."""
        live, dead = {self.token}, []
        for lock in (self.root / "runs").glob("*.lock"):
            token = lock.stem
            if token == self.token:
                continue
            with open(lock, "a") as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    live.add(token)  # still running
                    continue
                dead.append(token)
        for stem, record in self._read_records().items():
            if record.get("state") == "publishing" and record.get("run") not in live:
                self._finish_publication(stem, record)
        for token in dead:
            remove(self.root / "staging" / token)
            (self.root / "runs" / f"{token}.lock").unlink(missing_ok=True)

    def _finish_publication(self, stem: str, record: dict) -> None:
        """Complete a publication cut short by a kill: move what is still staged, then mark it done."""
        for name, staged in zip(record["outputs"], record["staged"]):
            if Path(staged).exists():
                move_into_place(Path(staged), self.out / name, replace=True)
        for name in record.get("stale", []):
            remove(self.out / name)
        record = {k: v for k, v in record.items() if k not in ("staged", "stale")}
        self._write_record(stem, {**record, "state": "done"})

    # ------------------------------------------------------------------------------------------- records
    def _read_records(self) -> dict[str, dict]:
        found = {}
        for p in self.records.glob("*.json"):
            try:
                record = json.loads(p.read_text())
            except (OSError, ValueError, RecursionError):
                continue  # unreadable record: its name stays unused until removed
            found[p.stem] = record if isinstance(record, dict) else {}  # not a record: nothing in it counts
        return found

    def _read_record(self, stem: str) -> dict | None:
        """The record of ``stem``; None when there is none or it is unreadable (that input is then redone)."""
        try:
            record = json.loads((self.records / f"{stem}.json").read_text())
        except (OSError, ValueError, RecursionError):
            return None
        return record if isinstance(record, dict) else None

    def _write_record(self, stem: str, record: dict) -> None:
        write_json(self.records / f"{stem}.json", record)

    def record(self, stem: str) -> dict | None:
        return self._read_record(stem)

    def _complete(self, record: dict | None, task: Task) -> bool:
        return (record is not None and record.get("state") == "done" and record.get("input") == str(task.path)
                and record.get("fingerprint") == task.fingerprint and record.get("settings") == task.settings
                and all((self.out / n).exists() for n in record.get("outputs", [])))

    # ------------------------------------------------------------------------------------------- planning
    def plan(self, inputs: list[tuple[Path, bool, str]], overwrite: bool) -> Plan:
        """Give every input its output stem and say which are already done.

        ``inputs``: (absolute path, is_video, settings digest). An input keeps the stem an earlier run gave it;
        a new input gets its file stem, numbered (``-1``, ``-2`` ...) when that name's outputs exist or the name
        belongs to another input.
        """
        prints = [fingerprint(p) for p, _, _ in inputs]  # read outside the lock: the slow part
        todo, skipped = [], []
        with self.locked():
            records = self._read_records()
            by_input = {r.get("input"): stem for stem, r in records.items()}
            taken = set(records)
            for index, ((path, video, settings), fp) in enumerate(zip(inputs, prints)):
                stem = by_input.get(str(path))
                if stem is None:
                    stem = self._free_stem(path.stem, video, taken)
                    taken.add(stem)
                    by_input[str(path)] = stem
                    records[stem] = {"input": str(path), "state": "claimed", "run": self.token}
                    self._write_record(stem, records[stem])
                record = records[stem]
                task = Task(index, path, video, stem, fp, settings, replace=list(record.get("outputs", [])),
                            seen=record.get("published"))
                if not overwrite and self._complete(record, task):
                    skipped.append(task)
                else:
                    todo.append(task)
        return Plan(todo, skipped)

    def _free_stem(self, base: str, video: bool, taken: set[str]) -> str:
        base = short_stem(base)
        candidate, n = base, 1
        while candidate in taken or any((self.out / name).exists() or (self.out / name).is_symlink()
                                        for name in output_names(candidate, video, frames=True, face=True)):
            candidate, n = f"{base}-{n}", n + 1
        return candidate

    # ------------------------------------------------------------------------------------------- results
    def stage(self, name: str, folder: bool = False) -> OutputSet:
        """A fresh OutputSet for one input: entries of this run's staging folder, or (``folder``) its own folder."""
        if folder:
            remove(self.staging / name)
            return OutputSet(self.staging / name)
        return OutputSet(self.staging, tag=secrets.token_hex(8))

    def publish(self, task: Task, outputs: OutputSet, coco: list[dict], frames: int) -> bool:
        """Move ``task``'s staged outputs into the folder as one set and record it done.

        Returns False (and drops the staged set) when another run finished the same input meanwhile.
        """
        with self.locked():
            record = self._read_record(task.stem) or {}
            if record.get("input") not in (None, str(task.path)):
                raise InputError(f"the output name '{task.stem}' was taken by '{record.get('input')}' meanwhile.")
            if self._complete(record, task) and record.get("published") != task.seen:
                outputs.discard()
                return False
            previous = list(record.get("outputs", []))
            names = outputs.check(self.out, replace=previous)
            stale = [n for n in previous if n not in names]
            publishing = {"input": str(task.path), "fingerprint": task.fingerprint, "settings": task.settings,
                          "outputs": names, "coco": coco, "frames": frames, "run": self.token,
                          "published": secrets.token_hex(8)}
            with critical():  # a signal waits until the set is in place and recorded
                self._write_record(task.stem, {**publishing, "state": "publishing", "stale": stale,
                                               "staged": [str(outputs.path(n)) for n in names]})
                outputs.publish(self.out, replace=previous)
                for name in stale:
                    remove(self.out / name)
                self._write_record(task.stem, {**publishing, "state": "done"})
        return True

    def fail(self, task: Task, reason: str) -> None:
        """Record that ``task`` failed (its earlier outputs, if any, are kept)."""
        with self.locked():
            record = self._read_record(task.stem) or {"input": str(task.path)}
            if record.get("state") == "done" and self._complete(record, task):
                return
            self._write_record(task.stem, {**record, "state": "failed", "reason": reason, "run": self.token})

    # ------------------------------------------------------------------------------------- job-wide files
    def _written(self) -> dict[str, str]:
        try:
            return json.loads((self.root / "written.json").read_text())
        except (OSError, ValueError):
            return {}

    def wrote(self, path: Path) -> bool:
        """Whether ``path`` is, unchanged, a file this job wrote (the COCO results, the failures list)."""
        key = os.path.abspath(path)
        digest = self._written().get(key)
        try:
            return digest is not None and Path(key).is_file() and file_digest(Path(key)) == digest
        except OSError:
            return False

    def remember(self, path: Path) -> None:
        """Note that this job wrote ``path`` (so that a rerun may replace it)."""
        with self.locked():
            written = self._written()
            written[os.path.abspath(path)] = file_digest(Path(path))
            write_json(self.root / "written.json", written)

    def close(self) -> None:
        """Drop this run's staging folder and release its run lock."""
        remove(self.staging)
        lock = self.root / "runs" / f"{self.token}.lock"
        lock.unlink(missing_ok=True)
        self._run_lock.close()
