"""Ship one shared object once, map a block function over blocks, gather in block order.

Two paths run the very same block function:

* in-process (``ray="none"``): the reference path, and what a machine without
  Ray uses;
* Ray: the shared object (the light engine, :mod:`.shipping`) is put into the
  object store once and every task receives its ObjectRef, wrapped so Ray does
  not resolve it per task; each worker process deserialises it once and keeps
  it for the later blocks (numpy arrays are read zero-copy from the store, so
  the workers of one machine share a single copy). ``ray="local"`` starts a
  quiet local instance with ``num_cpus=workers`` (no dashboard, worker logs
  kept out of the terminal) and stops it afterwards; any other value is an
  address of an existing cluster (``auto``, ``ray://host:10001``). A Ray
  instance already running in this process (a test fixture, a notebook) is
  reused and left running.

Ray is imported inside :func:`map_blocks` only, so the app's process never
loads it.
"""

from __future__ import annotations

import logging
import os
import resource
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: ``--ray`` values that are not addresses
IN_PROCESS, LOCAL = "none", "local"
#: the folder that holds the recengine and audits packages (workers import from it)
PROJECT_ROOT = str(Path(__file__).resolve().parents[2])


@dataclass
class BatchConfig:
    """Where blocks run and how big they are; the defaults run locally on 2 workers."""

    ray: str = LOCAL  # "none" (in-process), "local", or a cluster address
    workers: int = 2
    block_size: int | None = None  # ids per block (None: about 4 blocks per worker)
    object_store_mb: int | None = None  # local instance only (None: Ray's default)

    def __post_init__(self) -> None:
        if int(self.workers) < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.block_size is not None and int(self.block_size) < 1:
            raise ValueError(f"block size must be at least 1, got {self.block_size}")
        if not str(self.ray).strip():
            raise ValueError("--ray must be 'none', 'local' or a cluster address")

    @property
    def in_process(self) -> bool:
        return str(self.ray).lower() == IN_PROCESS

    def check_reachable(self, timeout_s: float = 3.0) -> None:
        """Refuse a ``host:port`` cluster address nothing listens on, at once.

        Ray itself retries an unreachable address for minutes, printing a warning
        every few seconds; one TCP connection says the same in one line. ``auto``,
        ``local`` and ``none`` are left to Ray (or need no cluster).
        """
        address = str(self.ray)
        if address.lower() in (IN_PROCESS, LOCAL, "auto"):
            return
        host, sep, port = address.split("://", 1)[-1].rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"--ray {address!r}: expected 'none', 'local', 'auto' or "
                             "host:port (or ray://host:port)")
        try:
            socket.create_connection((host, int(port)), timeout=timeout_s).close()
        except OSError as exc:
            raise ValueError(f"cannot reach Ray at {address!r}: "
                             f"{exc.strerror or type(exc).__name__}") from None


@dataclass(frozen=True)
class SideJob:
    """One more task on the shipped object, run once: ``fn(shared, *args)``.

    For whole-data work that belongs with a job but is not per block (the
    audits' offline protocol fits baselines on the whole catalogue). ``fn``
    must be a module-level function, as a block function must.
    """

    fn: Callable
    args: tuple = ()


@dataclass
class SideRun:
    """A side job's result and where and how long it ran."""

    value: object
    pid: int
    seconds: float  # wall time inside the task
    cpu_seconds: float


@dataclass
class BlockRun:
    """Each block's result in block order, and each process's peak resident memory."""

    results: list
    peak_rss_bytes: dict[int, int] = field(default_factory=dict)  # pid -> peak RSS
    where: str = IN_PROCESS
    #: CPU seconds the block functions used, summed over blocks (all their threads)
    cpu_seconds: float = 0.0
    side: SideRun | None = None  # the side job's run, when one was given


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far (``ru_maxrss``: KiB on Linux)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


def run_block(fn: Callable, shared, block: np.ndarray, args: tuple) -> tuple:
    """One block, as every path runs it: the result, pid, peak RSS and the block's CPU time."""
    cpu = time.process_time()
    value = fn(shared, block, *args)
    return value, os.getpid(), peak_rss_bytes(), time.process_time() - cpu


def run_side(job: SideJob, shared) -> tuple:
    """The side job, as every path runs it: the result, pid, peak RSS, CPU and wall time."""
    cpu, wall = time.process_time(), time.perf_counter()
    value = job.fn(shared, *job.args)
    return (value, os.getpid(), peak_rss_bytes(), time.process_time() - cpu,
            time.perf_counter() - wall)


#: on a Ray worker: the shared object last deserialised, by its ObjectRef's id
_WORKER_CACHE: dict[str, object] = {}


def _shared_on_worker(wrapped_ref: list):
    """The shared object, deserialised once per worker process and kept for later tasks."""
    import ray

    ref = wrapped_ref[0]
    key = ref.hex()
    if key not in _WORKER_CACHE:
        _WORKER_CACHE.clear()  # one job's object at a time
        _WORKER_CACHE[key] = ray.get(ref)
    return _WORKER_CACHE[key]


def _run_ray_block(fn: Callable, wrapped_ref: list, block: np.ndarray, args: tuple) -> tuple:
    """A Ray task: resolve the shared object once per worker process, then run the block."""
    return run_block(fn, _shared_on_worker(wrapped_ref), block, args)


def _run_ray_side(job: SideJob, wrapped_ref: list) -> tuple:
    """A Ray task: the side job on the same shared object."""
    return run_side(job, _shared_on_worker(wrapped_ref))


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ValueError("Ray is not installed: pip install -r requirements-dev.txt, or run "
                         "with --ray none") from None
    return ray


def start_ray(config: BatchConfig) -> bool:
    """Connect to (or start) Ray; True when this call started it and must stop it."""
    ray = _import_ray()

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    quiet = {"include_dashboard": False, "log_to_driver": False,
             "logging_level": logging.ERROR, "configure_logging": True}
    if str(config.ray).lower() == LOCAL:
        path = os.pathsep.join(p for p in (PROJECT_ROOT, os.environ.get("PYTHONPATH")) if p)
        env = {"PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "2"}
        store = (int(config.object_store_mb) * 2**20 if config.object_store_mb else None)
        # address "local": always a new instance, never a cluster `ray start` left running
        ray.init(address="local", num_cpus=int(config.workers), object_store_memory=store,
                 runtime_env={"env_vars": env}, **quiet)
    else:
        config.check_reachable()
        try:
            ray.init(address=config.ray, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ValueError(f"cannot connect to Ray at {config.ray!r}: "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                             ) from None
    return True


def map_blocks(fn: Callable, shared, blocks: Sequence[np.ndarray],
               config: BatchConfig | None = None, args: tuple = (),
               on_result: Callable[[int, object], None] | None = None,
               side: SideJob | None = None) -> BlockRun:
    """``fn(shared, block, *args)`` for every block, results gathered in block order.

    ``fn`` must be a module-level function (workers import it by name).
    ``on_result(i, result)``, when given, receives each result in block order as
    soon as it and every earlier one are in (a writer can stream them to disk)
    and the result is not kept in :attr:`BlockRun.results` (None there).
    ``side``, when given, runs once on the same shipped object
    (:attr:`BlockRun.side`): on Ray as one task submitted before the blocks, so
    a worker starts on it at once and the others take the blocks meanwhile;
    in-process after the blocks. Its CPU time is its own, not in
    :attr:`BlockRun.cpu_seconds`; its process's memory is in the peaks.
    """
    config = config or BatchConfig()
    results: list = []
    peaks: dict[int, int] = {}
    cpu = [0.0]

    def took_side(out: tuple) -> SideRun:
        value, pid, rss, cpu_s, wall_s = out
        peaks[pid] = max(peaks.get(pid, 0), rss)
        return SideRun(value, pid, wall_s, cpu_s)

    def take(i: int, out: tuple) -> None:
        value, pid, rss, cpu_s = out
        peaks[pid] = max(peaks.get(pid, 0), rss)
        cpu[0] += cpu_s
        if on_result is not None:
            on_result(i, value)
            value = None
        results.append(value)

    if config.in_process:
        for i, block in enumerate(blocks):
            take(i, run_block(fn, shared, block, args))
        done = took_side(run_side(side, shared)) if side is not None else None
        return BlockRun(results, peaks, IN_PROCESS, cpu[0], done)
    ray = _import_ray()
    started = start_ray(config)

    def get(future):
        try:
            return ray.get(future)
        except ray.exceptions.RayTaskError as exc:
            raise exc.as_instanceof_cause() from None

    try:
        ref = ray.put(shared)  # once: every task gets this reference
        side_future = (ray.remote(_run_ray_side).remote(side, [ref])
                       if side is not None else None)
        task = ray.remote(_run_ray_block)
        futures = [task.remote(fn, [ref], block, args) for block in blocks]
        for i, future in enumerate(futures):
            take(i, get(future))
            futures[i] = None  # let the store free each result once taken
        done = took_side(get(side_future)) if side_future is not None else None
        where = "ray local" if str(config.ray).lower() == LOCAL else f"ray {config.ray}"
        return BlockRun(results, peaks, where, cpu[0], done)
    finally:
        if started:
            ray.shutdown()
