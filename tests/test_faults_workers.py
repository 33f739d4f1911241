"""``kill -9`` of ``fetch`` leaves no process behind (issue 17, point 7).

Only the command's own process is killed, as an operator's ``kill -9 PID`` or the OOM killer
does; its fork server, workers and multiprocessing's resource tracker used to stay (about
240 MiB after 75 kills).  The command runs in a session of its own, so whatever it started is
found by session id.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from aggregator.ingest.workers import process_alive
from tests.faults import wait_until
from tests.httpserver import FixtureServer
from tests.test_locks import rss, start_fetch, write_config

SOURCES = 40  # above the cycle's threshold for worker processes


def session_members(sid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def test_killing_fetch_leaves_no_worker_fork_server_or_tracker(
    tmp_path: Path, http_server: FixtureServer
) -> None:
    paths = [f"/w{i:02d}.rss" for i in range(SOURCES)]
    for path in paths:
        items = [(f"g{n}", f"Entry {n} of {path}. " * 40) for n in range(30)]
        http_server.route(path, rss(path[1:4], items), headers={"Content-Type": "text/xml"})
    fetch = start_fetch(write_config(tmp_path, http_server, paths))
    assert fetch.stderr is not None and fetch.stdout is not None
    seen = 0
    while seen < 3:  # the pool is at work once sources finish
        line = fetch.stderr.readline()
        assert line, "fetch ended before it was killed"
        seen += " outcome=" in line
    helpers = [pid for pid in session_members(fetch.pid) if pid != fetch.pid]
    assert len(helpers) >= 3  # the tracker, the fork server and workers

    os.kill(fetch.pid, signal.SIGKILL)
    fetch.wait(timeout=30)
    fetch.stderr.close()
    fetch.stdout.close()

    try:
        wait_until(lambda: not any(process_alive(p) for p in helpers), "the helpers to exit", 30)
    finally:
        for pid in session_members(fetch.pid):
            os.kill(pid, signal.SIGKILL)
