"""``python bench/run.py --scale``: the cycle and publishing at network scale.

Every member feed of a network as large as every French commune (35,000 sources), on the one
machine: for 10,000 and 35,000 sources served by bench/scalefeeds.py over 64 loopback
addresses (the fetcher's per-host limit applies), 20 entries a feed, three regimes in turn on
one store:

* cold: every entry new, into an empty SQLite store;
* warm: every source answers 304;
* steady: 5 % of sources changed since (one new entry each), the others answer 304: the hourly
  cycle of production.

For each: wall seconds, CPU seconds of every process (``memory.tree_cpu_s``) and the peak PSS of
every process (sampled twice a second: the regimes last from seconds to minutes).  Then
publishing every output, first and unchanged, from 100,000 and 700,000 stored posts (one
store filled directly, grown from the one size to the other) and, when asked, from the
35,000-source store (700,000 posts and the steady state's new ones).

Each size runs in a process of its own, so that its peak memory is its own.  The last line is
one JSON object (``scale_10k_cold_s``, ``scale_35k_steady_peak_mib``, ``publish_700k_s``…).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
HOSTS = 64
SIZES = (10_000, 35_000)
PSS_INTERVAL_S = 0.5


def label(count: int) -> str:
    """10000 -> "10k": the key stem of a size."""
    return f"{count // 1000}k" if count % 1000 == 0 else str(count)


def _two_digits(count: int) -> int:
    """``count`` cut to two significant digits: 701,750 stored posts publish as "700k"."""
    unit = 10 ** max(len(str(count)) - 2, 0)
    return count // unit * unit


def urls(sources: int, port: int) -> list[str]:
    return [
        f"http://127.0.0.{1 + s % HOSTS}:{port}/s{s}.{'rss' if s % 2 == 0 else 'atom'}"
        for s in range(sources)
    ]


def settings_for(port: int, sources: int, work: Path) -> Any:
    """feeds.yaml for ``sources`` members of the scale host, written and loaded."""
    from aggregator import config

    allow = [f"127.0.0.{h}:{port}" for h in range(1, HOSTS + 1)]
    lines = [
        "site:",
        "  title: scale bench",
        "fetch:",
        f"  allow_private: {json.dumps(allow)}",
        "  max_entries: 50",
        "sources:",
    ]
    for i, url in enumerate(urls(sources, port)):
        lines += [
            f"  - id: s{i}",
            f"    name: Member {i}",
            f"    organisation: Org {i}",
            f"    url: {url}",
            f"    language: {('en', 'fr', 'es')[i % 3]}",
        ]
    path = work / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config.load(path)


def measured(prefix: str, action: Callable[[], Any]) -> tuple[dict[str, Any], Any]:
    """Run ``action``; its wall seconds, CPU seconds of the process tree and peak PSS."""
    from memory import PeakMemory, tree_cpu_s

    with PeakMemory(PSS_INTERVAL_S) as peak:
        c0, t0 = tree_cpu_s(), time.perf_counter()
        result = action()
        c1, t1 = tree_cpu_s(), time.perf_counter()
    return {
        f"{prefix}_s": round(t1 - t0, 2),
        f"{prefix}_cpu_s": round(c1 - c0, 2),
        f"{prefix}_peak_mib": round(peak.mib, 1),
    }, result


def set_round(port: int, number: int) -> None:
    """Move the scale host to round ``number`` (5 % of its sources changed per round)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/_round/{number}", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:  # our loopback host
        answer.read()


def phase_cycles(port: int, sources: int, work: Path, publish: bool) -> dict[str, Any]:
    """Cold, warm and steady cycles at ``sources``; then publishing from the store if asked."""
    from datetime import UTC, datetime

    from aggregator.cycle import run_cycle
    from aggregator.publish.publisher import publish_all
    from aggregator.store import open_store

    settings = settings_for(port, sources, work)
    store = open_store(settings.storage_url)
    stem = f"scale_{label(sources)}"
    figures: dict[str, Any] = {}
    set_round(port, 0)
    for regime, round_ in (("cold", 0), ("warm", 0), ("steady", 1)):
        set_round(port, round_)
        print(f"… {sources} sources, {regime}", file=sys.stderr, flush=True)
        found, report = measured(f"{stem}_{regime}", lambda: run_cycle(settings, store))
        figures.update(found)
        figures[f"{stem}_{regime}_new_posts"] = sum(o.new_posts for o in report.outcomes)
        figures[f"{stem}_{regime}_failed"] = sum(1 for o in report.outcomes if o.error)
    posts = store.count_posts()
    figures[f"{stem}_posts"] = posts
    if publish:
        now = datetime(2026, 12, 7, tzinfo=UTC)
        pstem = f"publish_{label(_two_digits(posts))}"
        figures.update(_publish_twice(pstem, store, settings, now, publish_all))
        figures[f"{pstem}_posts"] = posts
    store.close()
    return figures


def _publish_twice(
    stem: str, store: Any, settings: Any, now: Any, publish_all: Callable[..., Any]
) -> dict[str, Any]:
    print(f"… {stem}", file=sys.stderr, flush=True)
    first, report = measured(stem, lambda: publish_all(store, settings, now))
    again, _ = measured(f"{stem}_unchanged", lambda: publish_all(store, settings, now))
    return {**first, **again, f"{stem}_files": len(report.written)}


def phase_publish(counts: list[int], work: Path) -> dict[str, Any]:
    """Publishing from stores of ``counts`` posts, first and unchanged, smallest first.

    One store grows from one size to the next (older posts added, as the corpus is dated
    backwards from ``NOW``), so the largest size costs one fill; each size publishes into an
    empty output directory, in a process of its own (its peak is the publish's, not the
    fill's).
    """
    import shutil

    from sample_posts import add_posts, settings_for

    from aggregator.store import open_store

    settings = settings_for(work)
    store = open_store(settings.storage_url)
    store.sync_sources(settings.source_list())
    largest = max(counts)
    figures: dict[str, Any] = {}
    held = 0
    for posts in sorted(counts):
        print(f"… filling the store to {posts} posts", file=sys.stderr, flush=True)
        add_posts(store, range(largest - posts, largest - held))
        held = posts
        shutil.rmtree(settings.output_dir, ignore_errors=True)
        figures.update(run_phase(["publish-store", str(posts)], work))
    store.close()
    return figures


def phase_publish_store(posts: int, work: Path) -> dict[str, Any]:
    """Publishing from the store ``phase_publish`` filled in ``work``, first and unchanged."""
    from datetime import UTC, datetime

    from sample_posts import settings_for

    from aggregator.publish.publisher import publish_all
    from aggregator.store import open_store

    settings = settings_for(work)
    store = open_store(settings.storage_url)
    now = datetime(2026, 12, 7, tzinfo=UTC)
    stem = f"publish_{label(posts)}"
    figures = _publish_twice(stem, store, settings, now, publish_all)
    figures[f"{stem}_posts"] = store.count_posts()
    store.close()
    return figures


def run_phase(args: list[str], work: Path | None = None) -> dict[str, Any]:
    """One phase in a fresh interpreter (``run.py --scale-phase …``); its JSON line back.
    Its work directory is a new temporary one unless given."""
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as scratch:
        where = str(work or scratch)
        proc = subprocess.run(
            [sys.executable, str(HERE / "run.py"), "--scale-phase", *args, "--work", where],
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        return {f"scale_error_{args[0]}": f"exit {proc.returncode}"}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def run_scale(
    sizes: tuple[int, ...], publish_posts: str, publish_cycle_store: bool = False
) -> dict[str, Any]:
    """Every phase of the scale bench against one scale host; the figures in one dict.

    The language model's cache must be built already (``run.py`` does it first).
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = subprocess.Popen(
        [sys.executable, str(HERE / "scalefeeds.py"), str(port), str(HOSTS)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=HERE,
    )
    started = time.perf_counter()
    figures: dict[str, Any] = {"scale_sizes": list(sizes)}
    try:
        if server.stdout is None or server.stdout.readline().strip() != "ready":
            raise SystemExit("the scale bench's feed host did not start")
        if publish_posts.strip("0, "):
            figures.update(run_phase(["publish", publish_posts]))
        for count in sizes:
            # Off unless asked: the publish of 35,000 members' editions (one per source) is
            # measured from the directly filled stores above; this one adds minutes.
            publish = publish_cycle_store and count == max(sizes)
            figures.update(run_phase(["cycles", str(count), str(port), str(int(publish))]))
    finally:
        server.terminate()
        server.wait(timeout=10)
    figures["scale_bench_s"] = round(time.perf_counter() - started, 1)
    return figures


def scale_phase_main(argv: list[str], work: Path) -> dict[str, Any]:
    """The child side of ``run_phase``."""
    if argv[0] == "publish":
        return phase_publish([int(n) for n in argv[1].split(",")], work)
    if argv[0] == "publish-store":
        return phase_publish_store(int(argv[1]), work)
    sources, port, publish = int(argv[1]), int(argv[2]), argv[3] == "1"
    return phase_cycles(port, sources, work, publish)


def print_table(f: dict[str, Any]) -> None:
    rows = []
    for count in f.get("scale_sizes", []):
        stem = f"scale_{label(count)}"
        for regime in ("cold", "warm", "steady"):
            key = f"{stem}_{regime}"
            rows.append(
                (
                    f"{count} sources, {regime}",
                    f"{f.get(key + '_s', '?')} s, {f.get(key + '_cpu_s', '?')} s CPU, "
                    f"{f.get(key + '_peak_mib', '?')} MiB",
                )
            )
    for key in sorted(k for k in f if k.startswith("publish_") and k.endswith("_peak_mib")):
        stem = key.removesuffix("_peak_mib")
        rows.append((stem, f"{f.get(stem + '_s')} s, {f.get(stem + '_cpu_s')} s CPU, {f[key]} MiB"))
    width = max((len(r[0]) for r in rows), default=0)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
