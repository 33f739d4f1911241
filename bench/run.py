"""``python bench/run.py [--sources N]``: the product's figures, measured in one run.

Phases, each in its own process so that peak memory is its own:

* ours:    a cold cycle (every entry new) and a warm cycle (every source answers 304) through
           the real pipeline (fetch, parse, normalise, store in SQLite);
* memory:  the same two cycles again, with the peak memory of every process sampled;
* reader:  the same corpus through lemon24/reader, cold and warm, as the peer;
* floor:   the raw download of every body plus an lxml parse of each: no tool can beat this;
* normalise, publish, digest: per-entry normalisation cost, publishing every output from 10,000
           stored posts, and rendering + inlining a 100-item digest;
* search:  100,000 posts in SQLite and the labelled queries (bench/search_posts.py); also
           alone with ``--search-only``;
* send:    one edition to 10,000 subscribers through an SMTP sink on 127.0.0.1 (bench/send.py;
           ``--send-only`` runs just this one).

The timed phases (ours, reader, floor) run ``--repeat`` times (default 3), interleaved, and the
medians are reported.  The corpus is deterministic (bench/corpus.py) and served by bench/feedserver.py on loopback in a
separate process, over 64 loopback addresses so the per-host limit applies as in the wild.  The
last line printed is one JSON object holding every figure.
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
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import scale  # noqa: E402
from corpus import document_name, generate  # noqa: E402
from memory import PeakMemory, tree_cpu_s  # noqa: E402

HOSTS = 64


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _urls(sources: int, port: int) -> list[str]:
    return [f"http://127.0.0.{1 + s % HOSTS}:{port}/{document_name(s)}" for s in range(sources)]


# --------------------------------------------------------------------------------------------
# phases (each runs in a child process and prints one JSON line)


def _our_settings(port: int, sources: int, work: Path) -> Any:
    from aggregator import config

    allow = [f"127.0.0.{h}:{port}" for h in range(1, HOSTS + 1)]
    lines = [
        "site:",
        "  title: bench",
        "fetch:",
        f"  allow_private: {json.dumps(allow)}",
        "  max_entries: 50",
        "sources:",
    ]
    for i, url in enumerate(_urls(sources, port)):
        lang = ("en", "fr", "es")[i % 3]
        lines += [
            f"  - id: s{i}",
            f"    name: Member {i}",
            f"    organisation: Org {i}",
            f"    url: {url}",
            f"    language: {lang}",
        ]
    path = work / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config.load(path)


def phase_ours(corpus: Path, port: int, sources: int, work: Path) -> dict[str, Any]:
    from aggregator.cycle import run_cycle
    from aggregator.store import open_store

    settings = _our_settings(port, sources, work)
    store = open_store(settings.storage_url)
    c0, t0 = tree_cpu_s(), time.perf_counter()
    cold = run_cycle(settings, store)
    c1, t1 = tree_cpu_s(), time.perf_counter()
    warm = run_cycle(settings, store)
    c2, t2 = tree_cpu_s(), time.perf_counter()
    posts = store.count_posts()
    store.close()
    failed = [o for o in cold.outcomes if o.error]
    return {
        "cold_s": round(t1 - t0, 3),
        "warm_s": round(t2 - t1, 3),
        # the cycle's process, its fork server and every worker (ended ones included)
        "cold_cpu_s": round(c1 - c0, 2),
        "warm_cpu_s": round(c2 - c1, 2),
        "entries": posts,
        "cold_failed": len(failed),
        "first_error": failed[0].error if failed else None,
        "warm_not_modified": sum(1 for o in warm.outcomes if o.status.value == "not_modified"),
    }


def phase_memory(corpus: Path, port: int, sources: int, work: Path) -> dict[str, Any]:
    """The same cold and warm cycles in a process of their own, with memory sampled.

    Apart from the timed ones: reading every process's page accounting costs kernel time.
    """
    from aggregator.cycle import run_cycle
    from aggregator.store import open_store

    settings = _our_settings(port, sources, work)
    store = open_store(settings.storage_url)
    with PeakMemory() as peak:
        run_cycle(settings, store)
        run_cycle(settings, store)
    store.close()
    return {"peak_rss_mib": round(peak.mib, 1)}


def phase_reader(corpus: Path, port: int, sources: int, work: Path) -> dict[str, Any]:
    import logging

    from reader import make_reader

    logging.getLogger("reader").setLevel(logging.CRITICAL)
    r = make_reader(str(work / "reader.sqlite"))
    for url in _urls(sources, port):
        r.add_feed(url)
    workers = int(os.environ.get("BENCH_READER_WORKERS", "32"))
    c0, t0 = tree_cpu_s(), time.perf_counter()
    r.update_feeds(scheduled=False, workers=workers)
    c1, t1 = tree_cpu_s(), time.perf_counter()
    r.update_feeds(scheduled=False, workers=workers)
    c2, t2 = tree_cpu_s(), time.perf_counter()
    entries = r.get_entry_counts().total
    r.close()
    return {
        "reader_cold_s": round(t1 - t0, 3),
        "reader_warm_s": round(t2 - t1, 3),
        "reader_cold_cpu_s": round(c1 - c0, 2),
        "reader_warm_cpu_s": round(c2 - c1, 2),
        "reader_entries": entries,
        "reader_workers": workers,
        # one process (its threads share it): its own peak resident size is its footprint
        "reader_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def phase_floor(corpus: Path, port: int, sources: int, work: Path) -> dict[str, Any]:
    import asyncio

    import aiohttp
    from lxml import etree

    async def download() -> list[bytes]:
        sem = asyncio.Semaphore(32)
        async with aiohttp.ClientSession() as session:

            async def one(url: str) -> bytes:
                async with sem, session.get(url) as resp:
                    return await resp.read()

            return await asyncio.gather(*(one(u) for u in _urls(sources, port)))

    c0, t0 = tree_cpu_s(), time.perf_counter()
    bodies = asyncio.run(download())
    for body in bodies:
        etree.fromstring(body)
    c1, t1 = tree_cpu_s(), time.perf_counter()
    return {
        "floor_s": round(t1 - t0, 3),
        "floor_cpu_s": round(c1 - c0, 2),
        "floor_bytes": sum(len(b) for b in bodies),
    }


def phase_normalise(corpus: Path, port: int, sources: int, work: Path) -> dict[str, Any]:
    from datetime import UTC, datetime

    from aggregator.ingest.normalise import normalise
    from aggregator.ingest.parse import parse_document
    from aggregator.models import Source

    parsed = []
    for s in range(min(sources, 100)):
        name = document_name(s)
        body = (corpus / name).read_bytes()
        parsed.append(
            (s, parse_document(body, url=f"http://127.0.0.1/{name}", headers={}, max_entries=50))
        )
    now = datetime(2026, 11, 22, tzinfo=UTC)
    entries = 0
    t0 = time.perf_counter()
    for s, feed in parsed:
        src = Source(id=f"s{s}", name="x", organisation="x", url="http://127.0.0.1/")
        entries += len(normalise(feed, src, now, languages=("en", "fr", "es")))
    t1 = time.perf_counter()
    t2 = time.perf_counter()
    for s in range(min(sources, 100)):
        name = document_name(s)
        parse_document(
            (corpus / name).read_bytes(), url=f"http://127.0.0.1/{name}", headers={}, max_entries=50
        )
    t3 = time.perf_counter()
    return {
        "normalise_us_per_entry": round((t1 - t0) / entries * 1e6, 1),
        "parse_us_per_entry": round((t3 - t2) / entries * 1e6, 1),
    }


def phase_publish(corpus: Path, port: int, sources: int, work: Path) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    from sample_posts import fill_store, settings_for

    settings = settings_for(work)
    store = fill_store(settings, 10_000)
    from datetime import UTC, datetime

    from aggregator.publish.publisher import publish_all

    now = datetime(2026, 11, 22, tzinfo=UTC)
    t0 = time.perf_counter()
    report = publish_all(store, settings, now)
    t1 = time.perf_counter()
    again = publish_all(store, settings, now)
    t2 = time.perf_counter()
    store.close()
    return {
        "publish_10k_s": round(t1 - t0, 3),
        "publish_10k_unchanged_s": round(t2 - t1, 3),
        "publish_files": len(report.written),
        "publish_rewritten_second_time": len(again.written),
    }


def phase_digest(corpus: Path, port: int, sources: int, work: Path) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    from sample_posts import digest_render_ms

    return {"digest_100_ms": round(digest_render_ms(work, 100), 1)}


def phase_send(corpus: Path, port: int, sources: int, work: Path) -> dict[str, Any]:
    from send import send_10k

    return send_10k(work)


def phase_search(corpus: Path, port: int, sources: int, work: Path) -> dict[str, Any]:
    from search_posts import search_figures

    return search_figures(work)


PHASES = {
    "ours": phase_ours,
    "memory": phase_memory,
    "reader": phase_reader,
    "floor": phase_floor,
    "normalise": phase_normalise,
    "publish": phase_publish,
    "digest": phase_digest,
    "send": phase_send,
    "search": phase_search,
}


# --------------------------------------------------------------------------------------------
# orchestration


def _run_phase(name: str, corpus: Path, port: int, sources: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as work:
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--phase",
                name,
                "--corpus",
                str(corpus),
                "--port",
                str(port),
                "--sources",
                str(sources),
                "--work",
                work,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        print(f"phase {name} failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
        return {f"{name}_error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _warm_language_cache() -> None:
    """Build the language-model cache first, as any earlier run on the machine would have.

    The product writes it on first use (aggregator/language.py); without it the first cycle
    on a machine spends about 0.6 s more per worker decompressing the shipped model.
    """
    print("… language model cache", file=sys.stderr, flush=True)
    code = "from aggregator.ingest.process import warm_up; warm_up()"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--skip-reader", action="store_true", help="Do not run the peer.")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="Runs of the timed phases (ours, the peer, the floor); medians are reported.",
    )
    parser.add_argument(
        "--send-only",
        action="store_true",
        help="Only send one edition to 10,000 subscribers (send_10k_s, send_10k_peak_mib).",
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help="The scale bench instead (bench/scale.py): 10,000 and 35,000 sources, publishing "
        "from 100,000 and 700,000 posts.",
    )
    parser.add_argument(
        "--scale-sizes",
        default="10000,35000",
        help="Source counts of the scale bench, comma-separated (smaller ones while developing).",
    )
    parser.add_argument(
        "--scale-publish",
        default="100000,700000",
        help="Posts of the scale bench's directly filled stores to publish from, "
        "comma-separated (0: none).",
    )
    parser.add_argument(
        "--scale-publish-cycle-store",
        action="store_true",
        help="Also publish from the largest size's store (700,000 posts at 35,000 sources, "
        "35,000 member editions).",
    )
    parser.add_argument("--scale-phase", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument(
        "--search-only",
        action="store_true",
        help="Only the search phase (100,000 posts, the labelled queries): search_100k_ms.",
    )
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scale_phase:
        print(json.dumps(scale.scale_phase_main(args.scale_phase, args.work)))
        return
    if args.scale:
        sizes = tuple(int(n) for n in args.scale_sizes.split(","))
        _warm_language_cache()
        found = scale.run_scale(sizes, args.scale_publish, args.scale_publish_cycle_store)
        scale.print_table(found)
        print(json.dumps(found, sort_keys=True))
        return
    if args.phase:
        result = PHASES[args.phase](args.corpus, args.port, args.sources, args.work)
        print(json.dumps(result))
        return
    if args.send_only:
        print("… send", file=sys.stderr, flush=True)
        figures = _run_phase("send", Path(), 0, args.sources)
        print(json.dumps(figures, sort_keys=True))
        return
    if args.search_only:
        print("… search", file=sys.stderr, flush=True)
        print(json.dumps(_run_phase("search", Path(), 0, 0), sort_keys=True))
        return

    with tempfile.TemporaryDirectory(prefix="bench-corpus-") as tmp:
        corpus = Path(tmp)
        size = generate(corpus, args.sources)
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, str(HERE / "feedserver.py"), str(corpus), str(port), str(HOSTS)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            if server.stdout is None or server.stdout.readline().strip() != "ready":
                raise SystemExit("the benchmark's feed server did not start")
            figures: dict[str, Any] = {
                "sources": args.sources,
                "corpus_mib": round(size / 2**20, 1),
                "cores": os.cpu_count(),
            }
            _warm_language_cache()
            timed = ["floor", "ours"] + ([] if args.skip_reader else ["reader"])
            runs: list[dict[str, Any]] = []
            for round_ in range(1, args.repeat + 1):
                run: dict[str, Any] = {}
                for name in timed:  # interleaved: drift in the machine's speed hits all alike
                    print(f"… {name} (run {round_} of {args.repeat})", file=sys.stderr, flush=True)
                    run.update(_run_phase(name, corpus, port, args.sources))
                runs.append(run)
            figures.update(_medians(runs))
            for name in ["memory", "normalise", "publish", "digest", "search", "send"]:
                print(f"… {name}", file=sys.stderr, flush=True)
                figures.update(_run_phase(name, corpus, port, args.sources))
        finally:
            server.terminate()
            server.wait(timeout=10)
    _ratios(figures)
    _print_table(figures)
    print(json.dumps(figures, sort_keys=True))


TIMES = (
    "cold_s",
    "warm_s",
    "reader_cold_s",
    "reader_warm_s",
    "floor_s",
    "cold_cpu_s",
    "warm_cpu_s",
    "reader_cold_cpu_s",
    "reader_warm_cpu_s",
    "floor_cpu_s",
)


def _medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The last run's figures, with each time replaced by the median over the runs.

    On a shared 2-core machine one cycle can take 20% longer than the next for the same work;
    every run's times are kept too (``cold_s_runs``…), so the spread is on record.
    """
    merged = dict(runs[-1])
    for key in TIMES:
        values = [run[key] for run in runs if key in run]
        if values:
            merged[key] = statistics.median(values)
            merged[f"{key}_runs"] = values
    return merged


def _ratios(f: dict[str, Any]) -> None:
    if "cold_s" in f and "reader_cold_s" in f:
        f["reader_cold_ratio"] = round(f["reader_cold_s"] / f["cold_s"], 2)
        f["reader_warm_ratio"] = round(f["reader_warm_s"] / f["warm_s"], 2)
    if "cold_cpu_s" in f and "reader_cold_cpu_s" in f:
        # CPU seconds: what a change costs, whatever else the machine was doing meanwhile
        f["reader_cold_cpu_ratio"] = round(f["reader_cold_cpu_s"] / f["cold_cpu_s"], 2)
        f["reader_warm_cpu_ratio"] = round(f["reader_warm_cpu_s"] / max(f["warm_cpu_s"], 0.01), 2)
    if "cold_s" in f and "floor_s" in f:
        f["floor_cold_ratio"] = round(f["cold_s"] / f["floor_s"], 2)


def _print_table(f: dict[str, Any]) -> None:
    rows = [
        ("sources x entries", f"{f.get('sources')} x 20 ({f.get('entries', '?')} stored)"),
        ("cold cycle (ours)", f"{f.get('cold_s', '?')} s, {f.get('cold_cpu_s', '?')} s CPU"),
        (
            "warm cycle (ours, all 304)",
            f"{f.get('warm_s', '?')} s, {f.get('warm_cpu_s', '?')} s CPU",
        ),
        (
            "cold cycle (reader)",
            f"{f.get('reader_cold_s', '-')} s  ratio {f.get('reader_cold_ratio', '-')}x; "
            f"{f.get('reader_cold_cpu_s', '-')} s CPU  ratio {f.get('reader_cold_cpu_ratio', '-')}x",
        ),
        (
            "warm cycle (reader)",
            f"{f.get('reader_warm_s', '-')} s  ratio {f.get('reader_warm_ratio', '-')}x; "
            f"{f.get('reader_warm_cpu_s', '-')} s CPU  ratio {f.get('reader_warm_cpu_ratio', '-')}x",
        ),
        (
            "floor (download + lxml)",
            f"{f.get('floor_s', '?')} s  ours/floor {f.get('floor_cold_ratio', '-')}",
        ),
        ("peak memory (ours, PSS of all processes)", f"{f.get('peak_rss_mib', '?')} MiB"),
        ("normalise per entry", f"{f.get('normalise_us_per_entry', '?')} µs"),
        ("publish from 10k posts", f"{f.get('publish_10k_s', '?')} s"),
        ("digest of 100 items", f"{f.get('digest_100_ms', '?')} ms"),
        (
            "search, 100k posts (median, p95)",
            f"{f.get('search_100k_ms', '?')} ms, {f.get('search_100k_p95_ms', '?')} ms",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    main()
