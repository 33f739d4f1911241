"""Peak memory of a process and every process below it, as the kernel accounts it (PSS).

The cycle's workers are forked by multiprocessing's fork server and share its pages
copy-on-write, so neither ``ru_maxrss`` (one process) nor a sum of resident sizes (shared
pages counted once per process) says what the cycle costs the machine.  The proportional set
size splits every shared page between the processes that map it, so the sum over the tree is
the memory the whole tree really holds.  It is sampled ten times a second in a thread, in a
run of its own (reading the kernel's accounting costs milliseconds per process, which must not
be in timed figures); a cycle's memory rises and falls over seconds (fetched bodies waiting for
the workers), so a shorter peak is unlikely to be missed.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType

INTERVAL_S = 0.1


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(x) for x in (task / "children").read_text(encoding="ascii").split()]
        except OSError:
            continue
    return found


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for child in _children(pid):
        pids += _tree(child)
    return pids


def _pss_kib(pid: int) -> int:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="ascii")
    except OSError:  # the process ended between listing and reading
        return 0
    for line in rollup.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


class PeakMemory:
    """``with PeakMemory() as peak: …`` then ``peak.mib``: the largest PSS sum seen."""

    def __init__(self) -> None:
        self.kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @property
    def mib(self) -> float:
        return self.kib / 1024

    def _sample(self) -> None:
        me = os.getpid()
        while True:
            self.kib = max(self.kib, sum(_pss_kib(pid) for pid in _tree(me)))
            if self._stop.wait(INTERVAL_S):
                return

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
