"""Leftovers and lost turns around the outputs (issue 17, point 16), with real processes.

A killed ``publish`` left its temporary files until the next ``fetch``; two servers starting
together could each write a different session secret; ``publish`` held no lock, so a publish
that read the store before a cycle could overwrite the cycle's newer outputs; and a node that
lost its turn on a shared database logged an ERROR every slot.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from aggregator.clock import utc_now
from aggregator.jobs import cycle_job
from tests.faults import ROOT, cli_env, race, run_cli, wait_until, write_config
from tests.test_faults_digest import seed
from tests.test_store import Backend, backend  # noqa: F401 - the fixture, per backend

_KILLED_WRITER = """
import sys, time
from pathlib import Path
from aggregator.files import replacing
target, ready = Path(sys.argv[1]), Path(sys.argv[2])
with replacing(target) as handle:
    handle.write(b"half a page")
    ready.touch()
    time.sleep(120)  # killed here, as a publish killed mid-write
"""


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_publish_removes_what_a_killed_writer_left(backend: Backend, tmp_path: Path) -> None:
    feeds_yaml = write_config(tmp_path, backend.url)
    public = tmp_path / "public"
    ready = tmp_path / "writing"
    writer = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(public / "index.html"), str(ready)],
        env=cli_env(),
        cwd=ROOT,
    )
    wait_until(ready.exists, "the writer to be mid-write")
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=60)
    assert list(public.glob(".tmp-*"))  # what the killed writer left

    result = run_cli(feeds_yaml, "publish")

    assert result.returncode == 0, result.stderr
    assert list(public.glob(".tmp-*")) == []
    assert (public / "index.html").read_bytes().startswith(b"<!DOCTYPE html>")


_HOLD_CYCLE = """
import sys, time
from pathlib import Path
from aggregator.cycle import held_lock
from aggregator.store import open_store
url, ready, gate = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
store = open_store(url)
with held_lock(store, "cycle"):
    ready.touch()
    deadline = time.monotonic() + 120
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
store.close()
"""


def test_publish_waits_its_turn_behind_a_running_cycle(backend: Backend, tmp_path: Path) -> None:
    feeds_yaml = write_config(tmp_path, backend.url)
    backend.open().close()
    ready, gate = tmp_path / "held", tmp_path / "release"
    cycle = subprocess.Popen(
        [sys.executable, "-c", _HOLD_CYCLE, backend.url, str(ready), str(gate)],
        env=cli_env(),
        cwd=ROOT,
    )
    try:
        wait_until(ready.exists, "the cycle lock to be held")
        refused = run_cli(feeds_yaml, "publish")
        written_out_of_turn = (tmp_path / "public" / "feed.atom").exists()
    finally:
        gate.touch()
        cycle.wait(timeout=60)
    after = run_cli(feeds_yaml, "publish")

    assert refused.returncode == 3
    assert "'cycle' lock is taken" in refused.stderr
    assert not written_out_of_turn
    assert after.returncode == 0, after.stderr


_LOAD_SECRET = """
import sys
from pathlib import Path
from aggregator.web.session import load_secret
print(load_secret(Path(sys.argv[1]), {}).decode())
"""


def test_servers_starting_together_share_one_secret(tmp_path: Path) -> None:
    gate = tmp_path / "go"
    ready = [tmp_path / f"ready-{n}" for n in range(6)]
    starting = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys, time, pathlib\n"
                "pathlib.Path(sys.argv[3]).touch()\n"
                "while not pathlib.Path(sys.argv[2]).exists(): time.sleep(0.002)\n" + _LOAD_SECRET,
                str(tmp_path),
                str(gate),
                str(r),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=cli_env(),
            cwd=ROOT,
        )
        for r in ready
    ]
    wait_until(lambda: all(r.exists() for r in ready), "the servers")
    gate.touch()
    secrets = {p.communicate(timeout=60)[0].strip() for p in starting}

    assert len(secrets) == 1
    stored = (tmp_path / ".aggregator-secret").read_text(encoding="ascii").strip()
    assert secrets == {stored} and len(stored) == 64
    assert (tmp_path / ".aggregator-secret").stat().st_mode & 0o777 == 0o600
    assert list(tmp_path.glob(".tmp-*")) == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_two_previews_at_once_both_write_whole_files(backend: Backend, tmp_path: Path) -> None:
    feeds_yaml = write_config(tmp_path, backend.url, recipients=["ana@example.org"])
    store = backend.open()
    seed(store)
    store.close()

    outcomes = race(feeds_yaml, [("digest", "preview", "weekly")] * 2)

    assert [code for code, _, _ in outcomes] == [0, 0], outcomes
    digest = tmp_path / "digest"
    assert list(digest.glob(".tmp-*")) == []
    [html] = digest.glob("*.html")
    assert html.read_text(encoding="utf-8").rstrip().endswith("</html>")


def test_a_node_that_loses_its_turn_logs_info_not_error(
    backend: Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    feeds_yaml = write_config(tmp_path, backend.url)
    store = backend.open()
    other_node = "node-b.example:4242:1"  # another host: its process cannot be checked
    assert store.acquire_lock("cycle", other_node, utc_now(), timedelta(hours=1).seconds) is None
    store.close()

    with caplog.at_level(logging.INFO, logger="aggregator.jobs"):
        cycle_job(str(feeds_yaml))

    [record] = [r for r in caplog.records if r.name == "aggregator.jobs"]
    assert record.levelno == logging.INFO
    assert "cycle skipped" in record.getMessage() and other_node in record.getMessage()
