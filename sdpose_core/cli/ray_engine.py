"""``--engine ray``: the batch job's units on Ray workers, one model per worker (one per GPU where there are GPUs).

Imported only when Ray is asked for. Units (a few images, or one video) are handed out one at a time to whichever
worker is free, so a long video never leaves the others idle. Workers stage outputs in the job's staging folder
(the output folder must be at the same path on every node, as must the inputs); this process publishes them, so
resume, isolation and the set-at-once guarantee are exactly those of the local engine. A unit whose worker dies
is given to a worker again (up to ``MAX_ATTEMPTS`` times); Ray restarts the dead worker.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..atomic import OutputSet, remove
from ..errors import InputError, SDPoseError
from .work import Outcome, Unit, WorkSettings, build_estimator, run_unit

INSTALL = "pip install -r requirements-ray.txt"
MAX_ATTEMPTS = 3  # tries per unit when workers die under it
MAX_DEATHS = 3  # deaths after which a worker is retired
WAIT_S = 0.5  # longest wait for a unit in one call, so that SIGINT/SIGTERM are acted on promptly


def require_ray() -> None:
    """Ray importable, or one line saying how to install it."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise InputError(f"--engine ray needs Ray, which is not installed here; install it with: {INSTALL} "
                         "(or pip install ray).") from None


class PoseWorker:
    """One Ray actor: loads the model once, then poses units."""

    def __init__(self, settings: WorkSettings, device: str | None, threads: int):
        import torch

        torch.set_num_threads(threads)
        self.settings = settings
        self.error: str | None = None
        try:
            import ray

            if device is None:
                device = "cuda" if ray.get_gpu_ids() else "cpu"
            self.estimator = build_estimator(settings, device)
        except SDPoseError as exc:  # reported by ready(), as the local engine reports it
            self.error = str(exc)

    def ready(self) -> str | None:
        return self.error

    def pid(self) -> int:
        return os.getpid()

    def run(self, unit: Unit, stage_root: str) -> list[Outcome]:
        root = Path(stage_root)
        return list(run_unit(self.estimator, self.settings, unit, lambda stem, folder=False: OutputSet(root / stem)))


@contextlib.contextmanager
def _keep_signal_handlers() -> Iterator[None]:
    """Put back the SIGINT/SIGTERM handlers that ``ray.init`` replaces (its SIGTERM handler exits with status 15),
    so the Ray engine stops on the same signals, with the same status and message, as the local engine."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in handlers.items():
            if handler is not None:
                signal.signal(s, handler)


def _start(spec) -> bool:
    """Connect to the cluster (or start a local one); True when this call started Ray."""
    import ray

    if ray.is_initialized():
        return False
    with _keep_signal_handlers():
        _init(spec)
    return True


def _init(spec) -> None:
    import ray

    package = str(Path(__file__).resolve().parent)
    if spec.ray_address:
        ray.init(address=spec.ray_address, runtime_env={"py_modules": [package]}, log_to_driver=False)
    else:
        workers = spec.num_workers or 1
        path = os.pathsep.join(p for p in (str(Path(package).parent), os.environ.get("PYTHONPATH")) if p)
        ray.init(num_cpus=max(os.cpu_count() or 1, workers), include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": path}})


def run_ray(spec, job, units: list[Unit], progress: Callable[[int], None],
            handle: Callable[[Outcome], None]) -> None:
    """Run ``units`` on Ray workers; each outcome goes to ``handle`` (in this process) as units finish."""
    import ray
    from ray.exceptions import RayError, RayTaskError

    started = _start(spec)
    actors: list[Any] = []
    try:
        resources = ray.cluster_resources()
        gpus = 0 if spec.device == "cpu" else int(resources.get("GPU", 0))
        if spec.device and spec.device.startswith("cuda") and not gpus:
            raise InputError(f"--device {spec.device}: the Ray cluster has no GPU; use --device cpu.")
        count = min(spec.num_workers or max(1, gpus), len(units))
        threads = 1 if gpus else max(1, int(resources.get("CPU", 1)) // count)
        device = "cpu" if not gpus else None
        remote = ray.remote(num_cpus=1 if gpus else threads, num_gpus=1 if gpus else 0, max_restarts=-1)(PoseWorker)
        actors = [remote.remote(spec.settings, device, threads) for _ in range(count)]
        for error in _get([a.ready.remote() for a in actors]):
            if error:
                raise InputError(error)
        deaths = {i: 0 for i in range(count)}
        idle = list(range(count))
        queue = deque((unit, 1) for unit in units)
        running: dict[Any, tuple[int, Unit, int, Path]] = {}
        while queue or running:
            while idle and queue:
                worker, (unit, attempt) = idle.pop(0), queue.popleft()
                root = job.staging / f"{unit.name}-a{attempt}"
                remove(root)
                running[actors[worker].run.remote(unit, str(root))] = (worker, unit, attempt, root)
            if not running:  # every worker retired
                for unit, _ in queue:
                    _fail(unit, "every Ray worker died; see the Ray logs", progress, handle)
                return
            ready: list = []
            while not ready:  # short waits: a signal's handler runs between them, not only when a unit ends
                ready, _ = ray.wait(list(running), num_returns=1, timeout=WAIT_S)
            (ref,) = ready
            worker, unit, attempt, root = running.pop(ref)
            try:
                outcomes = ray.get(ref)
            except RayTaskError as exc:  # an error in our code, not a lost worker
                remove(root)
                idle.append(worker)
                _fail(unit, " ".join(str(exc.cause if exc.cause else exc).split())[:300], progress, handle)
                continue
            except RayError as exc:
                remove(root)
                deaths[worker] += 1
                if deaths[worker] < MAX_DEATHS:
                    idle.append(worker)
                else:
                    ray.kill(actors[worker])
                what = f"a Ray worker died while posing {unit.tasks[0].path.name}" + (
                    f" and {len(unit.tasks) - 1} more" if len(unit.tasks) > 1 else "")
                if attempt < MAX_ATTEMPTS:
                    print(f"{what}; trying again (attempt {attempt + 1} of {MAX_ATTEMPTS})", file=sys.stderr)
                    queue.append((unit, attempt + 1))
                else:
                    _fail(unit, f"{what} {MAX_ATTEMPTS} times ({type(exc).__name__})", progress, handle)
                continue
            for outcome in outcomes:
                handle(outcome)
            remove(root)
            progress(unit.weight)
            idle.append(worker)
    finally:
        for actor in actors:
            ray.kill(actor)
        if started:
            ray.shutdown()


def _get(refs: list) -> list:
    """``ray.get(refs)``, waiting in short steps so that a signal's handler runs meanwhile."""
    import ray

    while len(ray.wait(refs, num_returns=len(refs), timeout=WAIT_S)[0]) < len(refs):
        pass
    return ray.get(refs)


def _fail(unit: Unit, reason: str, progress: Callable[[int], None], handle: Callable[[Outcome], None]) -> None:
    for task in unit.tasks:
        handle(Outcome(task, error=reason))
    progress(unit.weight)
