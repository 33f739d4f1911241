"""Peak memory and CPU time of a process and every process below it, as the kernel accounts them.

The cycle's workers are forked by multiprocessing's fork server and share its pages
copy-on-write, so neither ``ru_maxrss`` (one process) nor a sum of resident sizes (shared
pages counted once per process) says what the cycle costs the machine.  The proportional set
size splits every shared page between the processes that map it, so the sum over the tree is
the memory the whole tree really holds.  It is sampled ten times a second in a thread, in a
run of its own (reading the kernel's accounting costs milliseconds per process, which must not
be in timed figures); a cycle's memory rises and falls over seconds (fetched bodies waiting for
the workers), so a shorter peak is unlikely to be missed.

CPU time is read the same way (``tree_cpu_s``): user + system seconds of every live process of
the tree, plus what its ended children had used.  Wall time on a shared two-core machine moves
with the other tenants' load; CPU seconds move much less, so a change is judged on both.
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


_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_ticks(pid: int) -> int:
    """utime + stime + cutime + cstime of ``pid``: its own CPU and its waited-for children's."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return 0
    fields = stat[stat.rindex(")") + 2 :].split()  # the name may hold spaces; skip past it
    return sum(int(v) for v in fields[11:15])


def tree_cpu_s(pid: int | None = None) -> float:
    """CPU seconds (user + system) used so far by ``pid`` (default: this process) and below.

    A child that ended and was waited for is in its parent's count; a worker process reaped by
    multiprocessing's fork server is in the fork server's, so nothing the tree did is lost as
    long as the processes that ended were waited for, which a pool's shutdown does.
    """
    return sum(_cpu_ticks(p) for p in _tree(pid or os.getpid())) / _TICKS


class PeakMemory:
    """``with PeakMemory() as peak: …`` then ``peak.mib``: the largest PSS sum seen."""

    def __init__(self, interval_s: float = INTERVAL_S) -> None:
        self.interval_s = interval_s
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
            if self._stop.wait(self.interval_s):
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
