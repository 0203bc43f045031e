"""The batch job behind ``estimate``: plan, run on an engine, publish each input's outputs, report.

* Resume: every input keeps its output name across runs; an input whose outputs are complete and whose size,
  mtime, content and settings are unchanged is skipped (``overwrite`` recomputes everything).
* Isolation: an input that cannot be read or posed is reported (stderr and ``OUT/sdpose_failures.txt``) and the
  others are still done; the exit status is 1 when any failed.
* Nothing half-written: outputs are staged and published as one set (:mod:`sdpose_core.cli.job`); an interrupted or
  killed run leaves no partial file, and the next run cleans up after a killed one.
* Engines: this process, the processes of ``accelerate launch`` (input i to process i % count), or Ray workers
  (:mod:`sdpose_core.cli.ray_engine`). All run the same units (:mod:`sdpose_core.cli.work`), so they give the same
  bytes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import remove, write_json, write_text
from ..errors import InputError
from .job import FAILURES_FILE, STATE_DIR, Job, Task, output_names, settings_digest
from .work import Outcome, Unit, WorkSettings


@dataclass
class JobSpec:
    """One ``estimate`` job, its arguments checked."""

    items: list[tuple[Path, bool]]  # (path, is_video)
    boxes: list[Any]  # per item: None or checked boxes (per frame for a video)
    settings: WorkSettings
    out: Path
    coco_json: Path | None = None
    overwrite: bool = False
    engine: str = "local"
    device: str | None = None
    num_workers: int | None = None
    ray_address: str | None = None


@dataclass
class Counts:
    done: int = 0
    skipped: int = 0
    failed: list[tuple[Task, str]] = field(default_factory=list)


def run_job(spec: JobSpec) -> int:
    """Run the job; 0 when every input is done or skipped, 1 when some failed."""
    from tqdm.auto import tqdm

    rank, world, state = process_group()
    if spec.engine == "ray" and world > 1:
        raise InputError("--engine ray runs its own workers; start it with python, not accelerate launch.")
    made = [p for p in (spec.out, *spec.out.parents) if not os.path.lexists(p)]  # the folders the job makes
    job = Job(spec.out)
    started = False
    try:
        inputs = [(Path(os.path.abspath(p)), video,
                   settings_digest({**spec.settings.shaping(), "boxes": b, "video": video}))
                  for (p, video), b in zip(spec.items, spec.boxes)]
        plan = job.plan(inputs, spec.overwrite)
        tasks = sorted(plan.todo + plan.skipped, key=lambda t: t.index)
        if spec.coco_json is not None:
            _check_coco_target(job, spec, tasks)
        todo = [t for t in plan.todo if t.index % world == rank]
        skipped = [t for t in plan.skipped if t.index % world == rank]
        weights = {t.index: _weight(t, job) for t in todo + skipped}
        units = make_units(todo, spec.boxes, spec.settings.options.batch_size, weights)
        total = sum(weights.values())
        video = any(v for _, v in spec.items)
        counts = Counts(skipped=len(skipped))
        local = bool(units) and spec.engine != "ray"
        estimator = _load_estimator(spec, state) if local else None  # a model that can't load fails before any bar
        started = True
        bar = tqdm(total=total, initial=sum(weights[t.index] for t in skipped), desc="SDPose",
                   unit="frame" if video else "img", disable=total < 2, file=sys.stderr)
        try:
            handle = _handler(job, counts, bar)
            if units and spec.engine == "ray":
                from .ray_engine import run_ray

                run_ray(spec, job, units, bar.update, handle)
            elif local:
                _run_local(estimator, spec, job, units, bar.update, handle)
        finally:
            bar.close()
        if state is not None:
            state.wait_for_everyone()
        notes = []
        if rank == 0:
            if spec.coco_json is not None:
                _write_coco(job, spec, tasks, world, state)
            notes.append(_write_failures(job, spec.out, tasks))
        shard = f" (process {rank + 1} of {world})" if world > 1 else ""
        print(f"SDPose: {counts.done} done, {counts.skipped} skipped, {len(counts.failed)} failed -> "
              f"{spec.out}{shard}{''.join(n for n in notes if n)}")
        return 1 if counts.failed else 0
    finally:
        job.close()
        if made and not started and world == 1:
            _drop_unused(made)


def _drop_unused(made: list[Path]) -> None:
    """Remove the folders this run made for --out (``made``: out first) when it stopped before any work (a model
    that cannot load, a bad --coco-json): only while out holds nothing but the job state that no other run joined,
    and each parent nothing else."""
    out = made[0]
    try:
        if [p.name for p in out.iterdir()] == [STATE_DIR] and not any((out / STATE_DIR / "runs").iterdir()):
            remove(out)
            for parent in made[1:]:
                parent.rmdir()  # OSError when something else is in it
    except OSError:
        pass


def make_units(tasks: list[Task], boxes: list[Any], batch_size: int, weights: dict[int, int]) -> list[Unit]:
    """Consecutive images in groups of ``batch_size`` (they share model batches); each video alone."""
    units: list[Unit] = []
    run: list[Task] = []

    def flush() -> None:
        if run:
            units.append(Unit(list(run), [boxes[t.index] for t in run], len(run)))
            run.clear()

    for task in tasks:
        if task.video:
            flush()
            units.append(Unit([task], [boxes[task.index]], weights[task.index]))
        else:
            run.append(task)
            if len(run) == batch_size:
                flush()
    flush()
    return units


def _weight(task: Task, job: Job) -> int:
    """Progress units of an input: 1 for an image, its frames for a video (as recorded, or as announced)."""
    if not task.video:
        return 1
    record = job.record(task.stem) or {}
    if record.get("state") == "done" and record.get("frames"):
        return int(record["frames"])
    from ..video.io import probe_video

    try:
        return max(1, probe_video(task.path).frames or 1)
    except Exception:  # noqa: BLE001 - an unreadable video fails later, with its reason
        return 1


def _handler(job: Job, counts: Counts, bar) -> Callable[[Outcome], None]:
    """What to do with each outcome: publish its set (or record and report its failure)."""

    def fail(task: Task, reason: str) -> None:
        counts.failed.append((task, reason))
        job.fail(task, reason)
        bar.write(f"failed: {escape_field(str(task.path))}: {escape_field(reason)}", file=sys.stderr)  # one line

    def handle(outcome: Outcome) -> None:
        if outcome.error is not None:
            fail(outcome.task, outcome.error)
            return
        try:
            published = job.publish(outcome.task, outcome.outputs, outcome.coco, outcome.frames)
        except InputError as exc:
            outcome.outputs.discard()
            fail(outcome.task, str(exc))
            return
        if published:
            counts.done += 1
        else:
            counts.skipped += 1  # another run finished the same input meanwhile

    return handle


def _load_estimator(spec: JobSpec, state: Any) -> Any:
    from .work import build_estimator

    return build_estimator(spec.settings, spec.device or default_device(state))


def _run_local(estimator: Any, spec: JobSpec, job: Job, units: list[Unit], progress: Callable[[int], None],
               handle: Callable[[Outcome], None]) -> None:
    from .work import run_unit

    for unit in units:
        for outcome in run_unit(estimator, spec.settings, unit, job.stage, progress):
            handle(outcome)


# ---------------------------------------------------------------------------------------------- job files
def _check_coco_target(job: Job, spec: JobSpec, tasks: list[Task]) -> None:
    """--coco-json may replace only a file this job wrote (or any with --overwrite), never an input or output."""
    path = Path(os.path.abspath(spec.coco_json))
    state = Path(os.path.realpath(job.root))
    if state == Path(os.path.realpath(path)) or state in Path(os.path.realpath(path)).parents:
        raise InputError(f"--coco-json '{spec.coco_json}' is inside the job's own folder '{job.root}'; choose a "
                         "name outside it.")
    if path in {t.path for t in tasks}:
        raise InputError(f"--coco-json '{spec.coco_json}' is one of the inputs; choose another name.")
    out = Path(os.path.abspath(spec.out))
    names = {n for t in tasks for n in output_names(t.stem, t.video, frames=True, face=True)}
    if path.parent == out and (path.name in names or path.name == FAILURES_FILE):
        raise InputError(f"--coco-json '{spec.coco_json}' is also an output of this job; choose another name.")
    if path.exists() and not (spec.overwrite or job.wrote(path)):
        raise InputError(f"--coco-json '{spec.coco_json}' already exists and was not written by this job; pass "
                         "--overwrite to replace it, or choose another name.")


def _write_coco(job: Job, spec: JobSpec, tasks: list[Task], world: int, state: Any) -> None:
    """One COCO results file covering every input of the job that is done (this run's and skipped ones)."""
    if world > 1 and state is None:
        print("COCO results not written: the processes cannot wait for each other; run the same command again "
              "in one process (everything is done, so it only writes the file).", file=sys.stderr)
        return
    from ..formats.coco import current_record

    records = []
    for task in tasks:
        record = job.record(task.stem) or {}
        if record.get("state") == "done" and record.get("input") == str(task.path):
            try:
                records += [current_record(r) for r in record.get("coco", [])]
            except (InputError, KeyError, TypeError, AttributeError) as exc:
                raise InputError(f"The job record of '{task.path}' ({job.records / (task.stem + '.json')}) holds a "
                                 f"COCO result that cannot be read ({exc!r}); delete that record file (the input is "
                                 "then posed again) and rerun.") from None
    path = Path(spec.coco_json)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, records, replace=spec.overwrite or job.wrote(path))
    job.remember(path)


_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def escape_field(text: str) -> str:
    r"""One field of the failures file on one line: backslash, tab, newline and carriage return written as ``\\``,
    ``\t``, ``\n``, ``\r``, and each byte of a file name that is not UTF-8 as ``\xNN`` (reversible)."""
    return "".join(_ESCAPES.get(c) or (f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else c) for c in text)


def _write_failures(job: Job, out: Path, tasks: list[Task]) -> str:
    """``OUT/sdpose_failures.txt``: one line per failed input (path, tab, reason, each escaped by
    :func:`escape_field`); removed when none failed."""
    failed = []
    for task in tasks:
        record = job.record(task.stem) or {}
        if record.get("state") == "failed" and record.get("input") == str(task.path):
            failed.append(f"{escape_field(str(task.path))}\t{escape_field(str(record.get('reason', '')))}\n")
    path = out / FAILURES_FILE
    if not failed:
        if path.exists() and job.wrote(path):
            path.unlink()
        return ""
    try:
        write_text(path, "".join(failed), replace=job.wrote(path) or not path.exists())
    except InputError:
        return f"; {len(failed)} failure(s) listed above ('{path}' is not this job's file, so it was kept)"
    job.remember(path)
    return f"; failures listed in {path}"


# ---------------------------------------------------------------------------------------------- processes
class _TorchGroup:
    """The one thing used from accelerate's PartialState, over a plain torch.distributed (gloo) group."""

    def __init__(self):
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("gloo")
        self.device = None

    def wait_for_everyone(self) -> None:
        import torch.distributed as dist

        dist.barrier()


def process_group():
    """(index, count, state or None) of this process among those launched together.

    One process unless launched by ``accelerate launch`` / torchrun with several. ``state`` offers
    ``wait_for_everyone()`` (and ``device``): accelerate's PartialState when accelerate is installed, else a
    torch.distributed gloo group from the launcher's environment; None when no group can be formed.
    """
    try:
        world = int(os.environ.get("WORLD_SIZE", "1") or "1")
        rank = int(os.environ.get("RANK", "0") or "0")
    except ValueError:
        return 0, 1, None
    if world <= 1:
        return 0, 1, None
    import torch

    try:
        from accelerate import PartialState
    except ImportError:
        PartialState = None
    if PartialState is not None:
        state = PartialState(cpu=not torch.cuda.is_available())  # without cpu=True it ignores CPU process groups
        if state.num_processes == world:
            return state.process_index, state.num_processes, state
    if os.environ.get("MASTER_ADDR") and os.environ.get("MASTER_PORT"):
        return rank, world, _TorchGroup()
    return rank, world, None


def default_device(state: Any) -> str:
    import torch

    if state is not None and state.device is not None:
        return str(state.device)
    if torch.cuda.is_available():
        local = os.environ.get("LOCAL_RANK")
        return f"cuda:{int(local) % torch.cuda.device_count()}" if local and local.isdigit() else "cuda"
    return "cpu"
