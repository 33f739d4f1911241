"""The worker processes of the CPU stage, forked from a fork server that is already warm.

Workers are forked by multiprocessing's fork server rather than from the cycle's own process,
which has an event loop, threads and sockets.  A plain fork server holds nothing, so every
worker of every cycle imported the parsers and loaded the language model itself: about 0.45 s
of CPU per worker, a twentieth of a cold cycle on two cores.  Here the fork server imports and
warms them once (``aggregator.ingest.preload``), and every worker starts with them in place
(copy-on-write); a long-running scheduler pays for it once, not once per cycle.

The catch, and why this is guarded: Python 3.11's fork server ignores the parent's ``sys.path``.
It resolves ``aggregator`` from its own (working directory first), which could be another copy
of the package than the parent's, say an older checkout; its workers would then run that code.
So before the server is started, a fresh interpreter started the same way reports where it
finds the package, and the server preloads only when that is the parent's own copy.  Otherwise
(or when a fork server is already running) workers import for themselves, as they always did.

**Nothing outlives the cycle's process.**  ``kill -9`` of ``fetch`` used to leave the fork
server, its workers and multiprocessing's resource tracker running (about 240 MiB after a few
dozen kills): the workers wait on a queue whose other end is gone, and the fork server on them.
Each worker therefore watches the process that made its pool; when that process is gone it
stops the fork server it was forked from and exits, and the resource tracker, whose last
writer is then gone, exits too.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from types import ModuleType
from typing import TypeVar

import aggregator
from aggregator.ingest.process import warm_up

log = logging.getLogger(__name__)

# The speed path's one switch: AGGREGATOR_WARM_FORK_SERVER=0 leaves the fork server empty, so
# every worker imports and warms for itself (the reference behaviour; same results, slower).
WARM_FORK_SERVER = os.environ.get("AGGREGATOR_WARM_FORK_SERVER", "1") != "0"
PRELOAD_MODULE = "aggregator.ingest.preload"
# What aggregator.ingest.preload warms: read by the fork server, which inherits the environment.
PRELOAD_ENV = "AGGREGATOR_PRELOAD"

_lock = threading.Lock()
_decided = False

_Job = TypeVar("_Job")
_Result = TypeVar("_Result")


#: Documents sent to the one worker of a lazy pool once it was up, and waiting for it, before
#: the pool starts its other workers: about half a second of work.  One worker busy half the
#: time (the hourly cycle: a changed feed in twenty) still meets bursts of 17 now and then,
#: as fetches end together; a cycle with many changed feeds queues 64 within a tenth of a
#: second.
BACKLOG = 64


class WorkerPool:
    """``count`` worker processes for ``process_document``, warmed for the site's languages.

    Jobs are handed to the processes from one helper thread: starting a worker blocks until the
    fork server has finished warming up (about half a second, once per process), and the
    cycle's event loop must go on fetching meanwhile instead of waiting for it.

    An ``eager`` pool (a cycle expecting many documents: sources never read) starts every
    worker at once.  Otherwise documents go to one worker until more than ``BACKLOG`` of those
    sent once it was up wait for it (what queued during its start-up, half a second in which
    a cycle fetches hundreds of sources, does not count); then the other workers start too.
    The hourly cycle of a large network reads a few changed feeds among thousands of 304s:
    one worker keeps up with them, where a second one (39 MiB at 10,000 sources) used to
    start anyway, as soon as a document arrived while another was read.  The first worker is
    a pool of its own: an executor of several processes starts another whenever none looks
    idle, a race its own result notices can lose.
    """

    def __init__(self, count: int, languages: tuple[str, ...], *, eager: bool = False) -> None:
        self._count = max(count, 1)
        self._languages = languages
        # eager: one executor of every worker, which hands each job to whichever is free
        first = self._count if eager else 1
        self._executors = [self._executor(first)]
        self._sizes = [first]  # processes of each executor
        self._in_flight = [0]
        self._up = False  # a first job came back: the first worker is running
        self._late = 0  # jobs of the first worker submitted once it was up, not back yet
        self._submitter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aggregator-jobs")
        # The fork server is checked and started by the helper thread too, before it hands
        # over any job (processes start at the first submission): the loop starts fetching.
        self._submitter.submit(_prepare_or_log, languages)
        if eager:  # start every worker now, not one per submitted document
            for _ in range(first):
                self._submitter.submit(self._executors[0].submit, warm_up, languages)

    def _executor(self, count: int) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(
            max_workers=count,
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=start_worker,
            initargs=(os.getpid(), self._languages),
        )
        widen_pipes(executor)
        return executor

    def _widen(self) -> None:
        """Start using the other workers: documents arrive faster than one worker reads them."""
        if len(self._executors) == 1 and self._sizes[0] < self._count:
            self._executors.append(self._executor(self._count - 1))
            self._sizes.append(self._count - 1)
            self._in_flight.append(0)

    def _choose(self) -> int:
        """The executor with the fewest jobs per process (the first while it is alone)."""
        if len(self._executors) == 1:
            if self._late > BACKLOG and self._sizes[0] < self._count:
                self._widen()
            else:
                return 0
        return min(range(2), key=lambda i: (self._in_flight[i] / self._sizes[i], i))

    async def run(self, function: Callable[[_Job], _Result], job: _Job) -> _Result:
        """``function(job)`` in a worker process, awaited without blocking the event loop."""
        chosen = self._choose()
        executor = self._executors[chosen]
        self._in_flight[chosen] += 1
        late = chosen == 0 and self._up and len(self._executors) == 1  # start-up not counted
        self._late += late
        try:
            loop = asyncio.get_running_loop()
            submitted = await loop.run_in_executor(self._submitter, executor.submit, function, job)
            result = await asyncio.wrap_future(submitted)
        finally:
            self._in_flight[chosen] -= 1
            self._late -= late
        self._up = True
        return result

    def shutdown(self) -> None:
        self._submitter.shutdown(wait=True, cancel_futures=True)
        for executor in self._executors:
            executor.shutdown(wait=True, cancel_futures=True)


# Bytes a pool's pipes hold (Linux's default for a process, /proc/sys/fs/pipe-max-size).
PIPE_BYTES = 2**20


def widen_pipes(executor: ProcessPoolExecutor) -> list[int]:
    """Let the pipes that carry jobs to ``executor``'s workers and results back hold
    ``PIPE_BYTES``; the sizes they now have (Linux), or nothing where they cannot be set.

    A document's result is about 150 KB (posts, their tokens) and a pipe holds 64 KiB: each
    result crossed in three writes, the worker waiting for the cycle's process to drain
    each, and two workers share the one result pipe.  With room for the whole of both, a
    cold cycle of 1,000 sources took about 5 % less time (docs/performance.md).  The pipes
    are the executor's own (``_call_queue``, ``_result_queue``): if a Python release names
    them otherwise, they keep their size and nothing else changes.
    """
    resize = getattr(fcntl, "F_SETPIPE_SZ", None)
    sizes: list[int] = []
    if resize is None:  # not Linux
        return sizes
    for name in ("_call_queue", "_result_queue"):
        reader = getattr(getattr(executor, name, None), "_reader", None)
        if reader is None:
            continue
        with suppress(OSError, ValueError, AttributeError):  # a lower limit, another reader
            sizes.append(fcntl.fcntl(reader.fileno(), resize, PIPE_BYTES))
    return sizes


ORPHAN_CHECK_S = 0.5  # how often a worker looks for the process that made its pool


def start_worker(owner: int, languages: tuple[str, ...]) -> None:
    """A worker's first act: watch ``owner`` (the pool's process), then warm up."""
    watcher = threading.Thread(
        target=_exit_without, args=(owner,), name="aggregator-owner-watch", daemon=True
    )
    watcher.start()
    warm_up(languages)


def _exit_without(owner: int) -> None:
    while process_alive(owner):
        time.sleep(ORPHAN_CHECK_S)
    server = os.getppid()
    if server not in (owner, 1) and _is_fork_server(server):
        with suppress(OSError):
            os.kill(server, signal.SIGTERM)
    os._exit(0)


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, killed and not yet reaped, does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return False
    except OSError:  # no procfs here: ask the kernel, which counts zombies as alive
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return stat.rsplit(")", 1)[-1].split()[:1] not in (["Z"], ["X"])


def _is_fork_server(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"multiprocessing.forkserver" in command


def _prepare_or_log(languages: tuple[str, ...]) -> None:
    """``_prepare_fork_server`` in the helper thread, where an exception would go unseen."""
    try:
        _prepare_fork_server(languages)
    except Exception:  # workers then import for themselves: slower, never wrong
        log.exception("could not prepare a preloading fork server")


def _prepare_fork_server(languages: tuple[str, ...]) -> None:
    """Ask for a preloading fork server, once per process and only when it is safe."""
    global _decided
    with _lock:
        if _decided:
            return
        _decided = True
        if not WARM_FORK_SERVER:
            return
        if not fork_server_finds_this_package():
            log.info("fork server not preloaded: it would import another copy of aggregator")
            return
        root = str(package_root())
        wanted = {"root": root, "languages": list(languages), **parent_main()}
        os.environ[PRELOAD_ENV] = json.dumps(wanted)
        multiprocessing.get_context("forkserver").set_forkserver_preload([PRELOAD_MODULE])
        # Start it now, from the working directory and environment just checked; it warms up
        # in the background, and the first worker waits for it in the submitting thread.
        from multiprocessing import forkserver

        forkserver.ensure_running()


def parent_main() -> dict[str, str]:
    """How a worker started from here would find this process's main module (``main_path``
    for a script, ``main_name`` for ``python -m``), as multiprocessing tells it, and what the
    fork server does with it (``main``: ``stand_in`` or ``run``); nothing when it can do
    nothing for the workers.

    multiprocessing runs the parent's main module again in every worker it does not fork from
    the parent itself, so that an object pickled by reference to ``__main__`` can be found
    there.  ``run.py`` and the ``aggregator`` script define nothing (they import the CLI and
    call it) and are the whole command line: 1,080 more modules, about 1.3 s of CPU and their
    memory in each worker of each cycle.  For such a module the preloading fork server
    (``aggregator.ingest.preload``) stands in.  A script that defines functions or classes of
    its own (handing one of them to the pool, as ``bench/load.py`` does with its preview
    function; ``bench/run.py`` defines its phases) is needed by the workers: the fork server
    runs it once and its workers inherit it, where each would run it again (multiprocessing's
    own preloading of ``__main__`` does that, but Python 3.11's fork server is never told the
    script's path).  A module started with ``python -m`` that defines objects is left to
    multiprocessing: each worker runs it.
    """
    from multiprocessing import spawn

    main = sys.modules.get("__main__")
    if main is None:
        return {}
    data = spawn.get_preparation_data("aggregator-worker")
    path, name = data.get("init_main_from_path"), data.get("init_main_from_name")
    if not _defines_objects(main):
        found = {"main_path": path, "main_name": name}
        named = {key: str(value) for key, value in found.items() if value}
        return {**named, "main": "stand_in"} if named else {}
    return {"main_path": str(path), "main": "run"} if path else {}


def _defines_objects(module: ModuleType) -> bool:
    """Whether ``module`` defines a function or class (which a job could refer to)."""
    return any(
        getattr(value, "__module__", None) == module.__name__
        for value in vars(module).values()
        if callable(value)
    )


def package_root() -> Path:
    """The directory holding this copy of the ``aggregator`` package."""
    return Path(aggregator.__file__).resolve().parent.parent


def fork_server_finds_this_package() -> bool:
    """Whether an interpreter started as the fork server is imports this very package.

    The fork server runs ``executable [interpreter flags] -c …`` in the parent's working
    directory and environment; so does this check, which costs one interpreter start-up.
    """
    from multiprocessing import spawn, util

    flags: list[str] = list(getattr(util, "_args_from_interpreter_flags", list)())
    code = "import aggregator, sys; sys.stdout.write(aggregator.__file__ or '')"
    try:
        found = subprocess.run(  # noqa: S603  # our own interpreter and fixed code
            [spawn.get_executable(), *flags, "-c", code],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(found) and Path(found).resolve().parent.parent == package_root()
