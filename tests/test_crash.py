"""Never lose a post: ``fetch`` killed with SIGKILL at 20 points, restarted each time, ends
with exactly the store and feed a run that was never interrupted produces.

The feeds change from round to round (a new entry and a revised one per source), so kills land
on real work: inserts, updates, publishing.  Kill points are read from the child's own log
(one ``source=… outcome=…`` line per source on stderr): after the k-th line for a seeded random
k, right after the process starts, and after the last source (while it tidies and publishes).
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from aggregator import config
from aggregator.clock import utc_now
from aggregator.cycle import run_cycle
from aggregator.files import TEMP_PREFIX, TEMP_SUFFIX, replacing, sweep_orphans, write_atomic
from aggregator.publish.publisher import publish_all
from aggregator.store import open_store
from tests.httpserver import FixtureServer
from tests.test_locks import kill_group, rss, start_fetch, write_config

SOURCES = 40
ROUNDS = 5
KILLS_PER_ROUND = 4
ATOM = "{http://www.w3.org/2005/Atom}"
START, PUBLISH = -1, SOURCES  # kill points besides "after the k-th source line"


def feed(source: int, round_: int) -> bytes:
    """Round r lists entries 0..r+4 (nothing ever drops off) and revises the entry that was
    newest in the previous round: each round brings one insert and one update per source, and
    the final state does not depend on which rounds a source happened to be fetched in."""
    name = f"c{source:02d}"
    items = []
    for g in range(round_ + 4, -1, -1):
        revision = 1 if g < round_ + 4 and round_ > 0 else 0
        items.append((f"g{g}", f"Body of {name} entry {g}, revision {revision}."))
    return rss(name, items)


def serve_round(server: FixtureServer, round_: int) -> None:
    for i in range(SOURCES):
        server.route(f"/c{i:02d}.rss", feed(i, round_), headers={"Content-Type": "text/xml"})


def store_snapshot(directory: Path) -> tuple[dict[str, str], Counter[str], list[tuple[str]]]:
    with sqlite3.connect(directory / "aggregator.sqlite3") as conn:
        posts = dict(conn.execute("SELECT id, content_hash FROM posts"))
        per_source = Counter(s for (s,) in conn.execute("SELECT source_id FROM posts"))
        lock_rows = list(conn.execute("SELECT name FROM locks"))
    return posts, per_source, lock_rows


def feed_ids(directory: Path) -> list[str]:
    tree = etree.parse(str(directory / "out" / "feed.atom"))
    ids = [e.findtext(f"{ATOM}id") or "" for e in tree.getroot().iter(f"{ATOM}entry")]
    parsed = feedparser.parse((directory / "out" / "feed.atom").read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    return ids


def kill_points(rng: random.Random) -> list[int]:
    points = [START] * 3 + [PUBLISH] * 3
    points += [rng.randint(1, SOURCES - 1) for _ in range(ROUNDS * KILLS_PER_ROUND - 6)]
    rng.shuffle(points)
    return points


def run_and_kill(config_path: Path, point: int) -> bool:
    """Start ``fetch`` and SIGKILL it at ``point``; whether it was still running then."""
    proc = start_fetch(config_path)
    watchdog = threading.Timer(60, kill_group, args=(proc,))
    watchdog.start()
    try:
        seen = 0
        assert proc.stderr is not None
        while point != START and seen < point:
            line = proc.stderr.readline()
            if not line:
                break  # it finished (or died) before the point
            if " outcome=" in line:
                seen += 1
        alive = proc.poll() is None
        kill_group(proc)
        return alive
    finally:
        watchdog.cancel()


def run_to_completion(config_path: Path) -> None:
    proc = start_fetch(config_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    assert f"{SOURCES} ok" in out or "not modified" in out, out


@pytest.mark.slow
def test_sigkill_at_20_points_loses_nothing_and_doubles_nothing(
    tmp_path: Path, http_server: FixtureServer
) -> None:
    paths = [f"/c{i:02d}.rss" for i in range(SOURCES)]
    crashed = write_config(tmp_path / "crashed", http_server, paths)
    clean = write_config(tmp_path / "clean", http_server, paths)
    for path in (crashed, clean):  # one host serves all 40: let them through together
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("total_timeout_s: 60", "total_timeout_s: 60, per_host: 16"))
    points = kill_points(random.Random(8))
    interrupted = 0
    for round_ in range(ROUNDS):  # the feeds change between groups of kills
        serve_round(http_server, round_)
        for point in points[round_ * KILLS_PER_ROUND : (round_ + 1) * KILLS_PER_ROUND]:
            interrupted += run_and_kill(crashed, point)
    run_to_completion(crashed)  # the restart after the last kill
    settings = config.load(clean)
    store = open_store(settings.storage_url)
    try:  # the reference: one uninterrupted run, in-process, no pool (the same result)
        run_cycle(settings, store, workers=1)
        publish_all(store, settings, utc_now())
    finally:
        store.close()

    assert interrupted >= 15, "most kills must land while the run is working"
    got, got_counts, got_locks = store_snapshot(crashed.parent)
    want, want_counts, _ = store_snapshot(clean.parent)
    assert len(want) == SOURCES * (ROUNDS + 4)  # entries 0..ROUNDS+3 of every source
    assert got == want  # every post, with the content of its last revision
    assert got_counts == want_counts
    assert got_locks == []
    ids = feed_ids(crashed.parent)
    assert len(ids) == len(set(ids)) and sorted(ids) == sorted(feed_ids(clean.parent))
    leftovers = list((crashed.parent / "out").rglob(".tmp-*"))
    assert leftovers == []


def test_only_temp_files_of_dead_writers_are_swept(tmp_path: Path) -> None:
    """What a kill during ``write_atomic`` leaves is removed; a live writer's file is not."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead_pid = int(dead.stdout)
    (tmp_path / "sub").mkdir()
    orphan = tmp_path / "sub" / f"{TEMP_PREFIX}{dead_pid}-abc{TEMP_SUFFIX}"
    legacy = tmp_path / f"{TEMP_PREFIX}abc{TEMP_SUFFIX}"  # an older release: no pid in it
    live = tmp_path / f"{TEMP_PREFIX}{os.getpid()}-def{TEMP_SUFFIX}"
    ours = tmp_path / "feed.atom"
    for path in (orphan, legacy, live, ours):
        path.write_bytes(b"x")
    assert sorted(sweep_orphans(tmp_path)) == sorted([orphan, legacy])
    assert live.exists() and ours.exists()
    write_atomic(tmp_path / "index.html", b"<p>ok</p>")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["sub", live.name, "feed.atom", "index.html"]
    )


def test_a_writer_that_fails_midway_leaves_the_old_file_and_no_temporary_file(
    tmp_path: Path,
) -> None:
    target = tmp_path / "langid.npz"
    target.write_bytes(b"the old, whole file")

    def fail_halfway() -> None:
        with replacing(target, mode=0o600) as handle:
            handle.write(b"half of the new")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        fail_halfway()
    assert target.read_bytes() == b"the old, whole file"
    assert [p.name for p in tmp_path.iterdir()] == ["langid.npz"]
    with replacing(target, mode=0o600) as handle:
        handle.write(b"the new file")
    assert target.read_bytes() == b"the new file"
    assert target.stat().st_mode & 0o777 == 0o600
