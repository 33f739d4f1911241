"""Sending one edition to 10,000 subscribers through an SMTP sink on 127.0.0.1.

The edition holds 50 posts (the ``max_items`` default, about 60 KB of inlined HTML); every
subscriber gets their own copy with their own signed links and VERP sender, each claimed and
recorded in the SQLite ledger.  Reported: wall and CPU seconds of the send alone, and the
sending process's peak resident memory (``ru_maxrss``, the list of 10,000 included).  The sink
(``smtpsink.py``) runs in a process of its own and is not counted.
"""

from __future__ import annotations

import resource
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sample_posts import NOW, SOURCES, fill_store

from aggregator import config
from aggregator.newsletter.digest import send
from aggregator.store.subscribers import Consent, Status, Subscriber
from aggregator.subscribers.tokens import Tokens

HERE = Path(__file__).resolve().parent


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _settings(work: Path, port: int) -> config.Settings:
    lines = [
        "site:",
        "  title: Bench network",
        "  base_url: https://news.example.org/",
        "digest:",
        f"  smtp: {{host: 127.0.0.1, port: {port}, security: none, "
        "from_address: news@news.example.org, rate_per_minute: 60000}",
        "  editions:",
        "    - {name: weekly, max_items: 50}",
        "subscribers:",
        "  bounce_address: bounces@news.example.org",
        "sources:",
    ]
    for s in range(SOURCES):
        lines += [
            f"  - {{id: s{s}, name: Member {s}, organisation: Organisation {s}, "
            f"url: 'https://member{s}.example.org/feed'}}"
        ]
    path = work / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config.load(path)


def _subscribe(store: Any, count: int) -> None:
    when = NOW - timedelta(days=1)
    consent = Consent("import", "bench", when, "bench list")
    for i in range(count):
        store.save_subscriber(
            Subscriber(
                0,
                f"reader{i}@city{i % 97}.example",
                ("en", "fr", "es")[i % 3],
                ("weekly",),
                Status.CONFIRMED,
                f"nonce{i}",
                when,
                when,
                consent,
                confirmed=when,
            )
        )


def send_10k(work: Path, count: int = 10_000) -> dict[str, Any]:
    port = _port()
    sink = subprocess.Popen(
        [sys.executable, str(HERE / "smtpsink.py"), str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        if sink.stdout is None or sink.stdout.readline().strip() != "ready":
            raise SystemExit("the SMTP sink did not start")
        settings = _settings(work, port)
        store = fill_store(settings, 400)
        _subscribe(store, count)
        tokens = Tokens(b"bench secret " * 4, lambda: NOW)
        wall, cpu = time.perf_counter(), time.process_time()
        report = send(store, settings, "weekly", NOW, tokens=tokens)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        store.close()
    finally:
        sink.terminate()
        out, _ = sink.communicate(timeout=60)
    received = int(out.split()[0]) if out.strip() else 0
    if len(report.sent) != count or received != count:
        raise SystemExit(f"sent {len(report.sent)}, the sink received {received}: {report}")
    return {
        "send_10k_s": round(wall, 1),
        "send_10k_cpu_s": round(cpu, 1),
        "send_10k_peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "send_10k_message_kib": round(int(out.split()[1]) / count / 1024, 1),
    }
