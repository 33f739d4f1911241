"""``python bench/cycle_ab.py OLD NEW [--rounds 3] [--sources 1000] [--memory]``: two checkouts'
cold and warm cycles, interleaved on one corpus, with the CPU split by process.

``bench/run.py`` measures one checkout; comparing two means two whole runs at different
moments of a shared machine.  Here both checkouts (each a directory holding ``aggregator/``,
for instance ``git worktree add /tmp/old <commit>``) run their own cycle, one after the other
(A B A B A B), against the same corpus served by one ``bench/feedserver.py``, with the same
interpreter; medians are printed last, as one JSON object per checkout.

Per run: ``cold_cpu_s`` and ``warm_cpu_s`` as ``bench/run.py`` counts them (user + system of
the cycle's process and every process below it), ``cold_parent_cpu_s`` (the cycle's own
process: fetching, storing, the search index) and ``cold_workers_cpu_s`` (the rest: the fork
server and its workers).  ``--memory`` adds each checkout's ``bench/run.py --phase memory``
(peak PSS of all processes, MiB), also interleaved.

Each cycle runs in a fresh interpreter whose working directory is its checkout, so its fork
server imports that checkout's package.  Checkouts from before the ``aggregator/ingest``
layout (``aggregator.app.run_cycle``) work too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
HOSTS = 64


def _cycle(checkout: Path, port: int, sources: int, work: Path) -> dict[str, Any]:
    """One cold and one warm cycle of ``checkout``'s code (run in a child, see ``main``)."""
    os.chdir(checkout)
    sys.path[:0] = [str(checkout / "bench"), str(checkout)]  # bench/run.py, not ./run.py
    from memory import tree_cpu_s

    import run as checkout_bench  # that checkout's bench/run.py: its own settings

    try:
        from aggregator.cycle import run_cycle
    except ImportError:  # the layout before aggregator/ingest
        from aggregator.app import run_cycle  # type: ignore[no-redef]
    from aggregator.store import open_store

    settings = checkout_bench._our_settings(port, sources, work)
    store = open_store(settings.storage_url)

    def own() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    c0, s0, t0 = tree_cpu_s(), own(), time.perf_counter()
    cold = run_cycle(settings, store)
    c1, s1, t1 = tree_cpu_s(), own(), time.perf_counter()
    run_cycle(settings, store)
    c2, t2 = tree_cpu_s(), time.perf_counter()
    posts = store.count_posts()
    store.close()
    return {
        "cold_cpu_s": round(c1 - c0, 2),
        "cold_parent_cpu_s": round(s1 - s0, 2),
        "cold_workers_cpu_s": round(c1 - c0 - (s1 - s0), 2),
        "warm_cpu_s": round(c2 - c1, 2),
        "cold_s": round(t1 - t0, 2),
        "warm_s": round(t2 - t1, 2),
        "entries": posts,
        "cold_failed": sum(1 for o in cold.outcomes if o.error),
    }


def _child(args: list[str], checkout: Path, env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, *args], cwd=checkout, env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"{checkout}: {' '.join(args[:3])} failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _warm_model(checkout: Path) -> None:
    """The language model's cache, as ``bench/run.py`` makes it before timing."""
    code = (
        "try:\n from aggregator.ingest.process import warm_up\n"
        "except ImportError:\n from aggregator.process import warm_up\nwarm_up()"
    )
    subprocess.run([sys.executable, "-c", code], cwd=checkout, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkouts", nargs="*", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--memory", action="store_true", help="Also peak PSS (bench/run.py).")
    parser.add_argument("--cycle", nargs=3, help=argparse.SUPPRESS)  # checkout port work
    args = parser.parse_args()
    if args.cycle:
        checkout, port, work = args.cycle
        result = _cycle(Path(checkout), int(port), args.sources, Path(work))
        print(json.dumps(result))
        return

    sys.path.insert(0, str(HERE))
    from corpus import generate

    checkouts = [c.resolve() for c in args.checkouts]
    runs: dict[Path, list[dict[str, Any]]] = {c: [] for c in checkouts}
    with tempfile.TemporaryDirectory(prefix="cycle-ab-") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        generate(corpus, args.sources)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        server = subprocess.Popen(
            [sys.executable, str(HERE / "feedserver.py"), str(corpus), str(port), str(HOSTS)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            if server.stdout is None or server.stdout.readline().strip() != "ready":
                raise SystemExit("the benchmark's feed server did not start")
            for checkout in checkouts:
                _warm_model(checkout)
            for round_ in range(1, args.rounds + 1):
                for checkout in checkouts:
                    with tempfile.TemporaryDirectory(prefix="cycle-ab-work-") as work:
                        found = _child(
                            [__file__, "--sources", str(args.sources), "--cycle",
                             str(checkout), str(port), work],
                            checkout,
                            dict(os.environ),
                        )  # fmt: skip
                    if args.memory:
                        with tempfile.TemporaryDirectory(prefix="cycle-ab-mem-") as work:
                            found |= _child(
                                [str(checkout / "bench" / "run.py"), "--phase", "memory",
                                 "--corpus", str(corpus), "--port", str(port),
                                 "--sources", str(args.sources), "--work", work],
                                checkout,
                                dict(os.environ),
                            )  # fmt: skip
                    runs[checkout].append(found)
                    print(f"round {round_} {checkout}: {json.dumps(found)}", file=sys.stderr)
        finally:
            server.terminate()
            server.wait(timeout=10)
    for checkout in checkouts:
        keys = runs[checkout][0].keys()
        medians = {k: statistics.median(r[k] for r in runs[checkout]) for k in keys}
        print(json.dumps({"checkout": str(checkout), **medians}, sort_keys=True))


if __name__ == "__main__":
    main()
