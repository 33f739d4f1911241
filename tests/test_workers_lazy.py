"""A pool that is not eager runs one worker until documents queue up for it.

The hourly cycle of a large network reads a few changed feeds among thousands of 304s; a
second worker process (39 MiB at 10,000 sources) is only worth starting when documents wait.
Real processes from the fork server, as a cycle has them.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from aggregator.ingest.workers import BACKLOG, WorkerPool

pytestmark = pytest.mark.slow


def worker_pid(_job: int) -> int:
    return os.getpid()


def worker_pid_after_work(_job: int) -> int:
    """About 10 ms of CPU: a queue of them lasts long enough for a second worker to start."""
    sum(range(500_000))
    return os.getpid()


def test_a_few_documents_at_once_use_one_worker_and_a_queue_opens_the_others() -> None:
    pool = WorkerPool(2, ("en",))

    async def both() -> tuple[set[int], set[int]]:
        first = await pool.run(worker_pid, 0)  # the first worker is up
        few = await asyncio.gather(
            *(pool.run(worker_pid_after_work, n) for n in range(BACKLOG - 2))
        )  # without the gate the executor starts a second process for the second of these
        burst = await asyncio.gather(
            *(pool.run(worker_pid_after_work, n) for n in range(BACKLOG * 3))
        )
        return {first, *few}, set(burst)

    try:
        few, burst = asyncio.run(both())
    finally:
        pool.shutdown()
    assert len(few) == 1  # BACKLOG - 2 documents at once: one process
    assert few < burst and len(burst) == 2  # a queue of 3 BACKLOG: the second one too


def test_an_eager_pool_starts_every_worker() -> None:
    pool = WorkerPool(2, ("en",), eager=True)

    async def burst() -> set[int]:
        return set(
            await asyncio.gather(*(pool.run(worker_pid_after_work, n) for n in range(BACKLOG)))
        )

    try:
        found = asyncio.run(burst())
    finally:
        pool.shutdown()
    assert len(found) == 2
