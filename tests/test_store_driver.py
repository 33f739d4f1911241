"""Driver SQL is a speed path: a whole cycle stores exactly the same with it switched off.

Each side runs in a fresh interpreter (the switch, ``AGGREGATOR_DRIVER_SQL``, is read at import)
against its own store on the same backend: SQLite, and PostgreSQL when CI provides one.  Two
cycles run, so both the inserts of a cold cycle and the updates and merges of a warm one (a
cross-posted story, a changed post) go through the path being compared.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from aggregator.store import open_store
from tests.httpserver import FixtureServer
from tests.test_store import Backend, backend  # noqa: F401  (the fixture)

ROOT = Path(__file__).resolve().parent.parent
CYCLES = """
import json, sys
from datetime import UTC, datetime, timedelta
from aggregator import config
from aggregator.cycle import run_cycle
from aggregator.store import open_store
settings = config.load(sys.argv[1])
store = open_store(sys.argv[2])
start = datetime(2026, 6, 1, tzinfo=UTC)
run_cycle(settings, store, clock=lambda: start, workers=1)
open(sys.argv[3], "w").write("changed")  # the second cycle sees one post rewritten
run_cycle(settings, store, clock=lambda: start + timedelta(hours=2), workers=1)
store.close()
"""


def _rss(items: list[tuple[str, str]]) -> str:
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link>"
        "<pubDate>Mon, 01 Jun 2026 07:00:00 +0000</pubDate>"
        "<description>Cities and regions build homes; les villes construisent.</description>"
        "<category>Housing</category></item>"
        for title, link in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{body}</channel></rss>'
    )


def _serve(http_server: FixtureServer, flag: Path) -> None:
    study = ("Localising the global goals: a new study", "https://pf.example/study")
    for n in range(6):
        items = [(f"Post {n}-{i} about housing in European cities", f"https://m{n}.example/{i}")
                 for i in range(4)]  # fmt: skip
        if n < 3:
            items.append(study)  # one story, cross-posted by three members

        def handler(h: Any, items: list[tuple[str, str]] = items, n: int = n) -> None:
            changed = [(f"{t} (updated)", u) if flag.exists() and n == 0 else (t, u)
                       for t, u in items]  # fmt: skip
            data = _rss(changed).encode()
            h.send_response(200)
            h.send_header("Content-Type", "application/rss+xml")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)

        http_server.route(f"/f{n}.rss", handler=handler)


def _run(switch: str, folder: Path, url: str, server: FixtureServer) -> None:
    lines = ["site: {title: t, base_url: 'https://agg.example/', fetch_interval_minutes: 60}"]
    # one request at a time: which member's copy of the cross-posted story is kept depends on
    # arrival order, and both sides must see the same order
    lines.append(f"fetch: {{allow_private: ['{server.hostport}'], per_host: 1}}")
    lines.append("sources:")
    lines += [f"  - {{id: s{n}, name: S{n}, organisation: O{n}, "
              f"url: '{server.url(f'/f{n}.rss')}'}}" for n in range(6)]  # fmt: skip
    folder.mkdir()
    (folder / "feeds.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {**os.environ, "AGGREGATOR_DRIVER_SQL": switch, "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [sys.executable, "-c", CYCLES, str(folder / "feeds.yaml"), url, str(folder / "flag")],
        check=True,
        env=env,
        cwd=ROOT,
        capture_output=True,
    )


def _dump(url: str) -> dict[str, Any]:
    store = open_store(url)
    try:
        posts = sorted(store.recent_posts(1000), key=lambda p: p.id)
        states = store.get_states()
        return {
            "posts": [repr(p) for p in posts],
            "states": {k: repr(v) for k, v in sorted(states.items())},
            "count": store.count_posts(),
        }
    finally:
        store.close()


@pytest.mark.slow
def test_a_cycle_stores_the_same_with_driver_sql_switched_off(
    tmp_path: Path,
    http_server: FixtureServer,
    backend: Backend,  # noqa: F811
) -> None:
    dumps = []
    schema = f"ref_{uuid.uuid4().hex[:12]}"
    try:
        for switch in ("1", "0"):
            folder = tmp_path / f"driver-{switch}"
            _serve(http_server, folder / "flag")
            url = backend.url if switch == "1" else _second_store(backend, tmp_path, schema)
            _run(switch, folder, url, http_server)
            dumps.append(_dump(url))
    finally:
        if backend.name != "sqlite":
            backend.raw(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    fast, reference = dumps
    assert fast["count"] == 6 * 4 + 1  # the cross-posted study is one post
    assert fast == reference
    # the second cycle rewrote source s0's four posts and its copy of the study, the one kept
    assert json.dumps(fast).count("(updated)") == 5


def _second_store(backend: Backend, tmp_path: Path, schema: str) -> str:  # noqa: F811
    """Another empty store on the same backend for the reference side."""
    if backend.name == "sqlite":
        return f"sqlite:///{tmp_path / 'reference.sqlite3'}"
    backend.raw(f"CREATE SCHEMA {schema}")
    return re.sub(r"search_path%3D[a-z0-9_]+", f"search_path%3D{schema}", backend.url)
