"""``python bench/workers.py [--sources N] [--workers 1,2,4]``: the queue's throughput.

A cold cycle (every entry of every source new) of N sources (default 1,000, the corpus of
bench/run.py: 20 entries each, served over 64 loopback addresses by bench/feedserver.py in its
own process) run by ``aggregator worker`` processes on PostgreSQL, once per worker count, each
in a fresh PostgreSQL schema.  The workers are started and registered before the clock starts;
the time runs from the planner's first tick to the end of the cycle's publish job.  Worker CPU
is the user + system time of the worker processes over that span.

Needs ``AGGREGATOR_TEST_PG_URL`` (or ``--pg-url``).  The last line printed is one JSON object:
``workers_1_s``, ``workers_2_s``, ``workers_4_s`` (and the CPU seconds beside each).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import psycopg  # noqa: E402
from corpus import generate  # noqa: E402

from aggregator import config  # noqa: E402
from aggregator.queue.app import Queue, build_app, ensure_schema  # noqa: E402
from aggregator.queue.planner import TickReport, tick  # noqa: E402
from run import HOSTS, _free_port, _our_settings, _warm_language_cache  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def _sql(dsn: str, query: str) -> Any:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(query).fetchone()[0]  # type: ignore[index]


@contextmanager
def _schema(pg_url: str) -> Iterator[tuple[str, str]]:
    dsn = pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    option = ("&" if "?" in pg_url else "?") + f"options=-csearch_path%3D{name}"
    try:
        yield pg_url + option, dsn + option
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


def _settings(port: int, sources: int, work: Path, storage_url: str) -> config.Settings:
    """bench/run.py's configuration, on PostgreSQL, with one bucket per host."""
    base = _our_settings(port, sources, work)
    text = base.path.read_text(encoding="utf-8").replace(
        "site:\n  title: bench\n",
        f"site:\n  title: bench\n  storage_url: '{storage_url}'\nqueue:\n  buckets: {HOSTS}\n",
    )
    base.path.write_text(text, encoding="utf-8")
    return config.load(base.path)


def _plan(settings: config.Settings) -> TickReport:
    async def go() -> TickReport:
        app = build_app(settings)
        async with app.open_async():
            path = str(settings.path.resolve())
            return await tick(Queue(app, path), path, datetime.now(UTC))

    import asyncio

    return asyncio.run(go())


def _until(condition: Callable[[], bool], timeout_s: float = 900) -> None:
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        pause.wait(0.05)


def _postgres_pids() -> list[int]:
    """The PostgreSQL server's processes, when it runs on this machine (its CPU is the queue's
    too: every job's writes and the queue's own queries)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/comm"):
        try:
            if stat.read_text().strip() == "postgres":
                pids.append(int(stat.parent.name))
        except OSError:
            continue
    return pids


def _cpu(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # a backend that ended in between
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def one_run(pg_url: str, port: int, sources: int, workers: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp, _schema(pg_url) as urls:
        work = Path(tmp)
        storage_url, dsn = urls
        settings = _settings(port, sources, work, storage_url)
        ensure_schema(settings)
        _plan_store_ready(settings)
        procs = [
            subprocess.Popen(
                [sys.executable, "run.py", "worker", "--config", str(settings.path)],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=(work / f"worker-{i}.log").open("wb"),
            )
            for i in range(workers)
        ]
        try:
            _until(lambda: _sql(dsn, "SELECT count(*) FROM procrastinate_workers") == workers)
            cpu0 = _cpu([p.pid for p in procs])
            pg0 = _cpu(_postgres_pids())
            load0 = os.getloadavg()[0]
            t0 = time.perf_counter()
            first = _plan(settings)
            pending = (
                "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'update_bucket'"
                " AND status IN ('todo', 'doing')"
            )
            _until(lambda: _sql(dsn, pending) == 0)
            assert _plan(settings).published == first.started
            done = "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'publish' AND status = 'succeeded'"
            _until(lambda: _sql(dsn, done) == 1)
            elapsed = time.perf_counter() - t0
            cpu = _cpu([p.pid for p in procs]) - cpu0
            pg_cpu = _cpu(_postgres_pids()) - pg0
            posts = _sql(dsn, "SELECT count(*) FROM posts")
            failed = _sql(dsn, "SELECT count(*) FROM sources WHERE consecutive_failures > 0")
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(60)
    return {
        f"workers_{workers}_s": round(elapsed, 2),
        f"workers_{workers}_cpu_s": round(cpu, 2),
        f"workers_{workers}_postgres_cpu_s": round(pg_cpu, 2),
        f"workers_{workers}_load_before": round(load0, 1),
        f"workers_{workers}_posts": posts,
        f"workers_{workers}_failed": failed,
    }


def _plan_store_ready(settings: config.Settings) -> None:
    """Create the store's tables before the clock starts, as ``aggregator migrate`` would."""
    from aggregator.store import open_store

    open_store(settings.storage_url).close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--pg-url", default=os.environ.get("AGGREGATOR_TEST_PG_URL"))
    args = parser.parse_args()
    if not args.pg_url:
        raise SystemExit("set AGGREGATOR_TEST_PG_URL or pass --pg-url")
    counts = [int(n) for n in args.workers.split(",")]
    figures: dict[str, Any] = {"sources": args.sources, "cores": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench-corpus-") as tmp:
        corpus = Path(tmp)
        generate(corpus, args.sources)
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, str(HERE / "feedserver.py"), str(corpus), str(port), str(HOSTS)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            if server.stdout is None or server.stdout.readline().strip() != "ready":
                raise SystemExit("the benchmark's feed server did not start")
            _warm_language_cache()
            for n in counts:
                print(f"… {n} worker(s)", file=sys.stderr, flush=True)
                figures.update(one_run(args.pg_url, port, args.sources, n))
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
