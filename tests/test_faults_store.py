"""Commands beside a busy or failing store (issue 17, points 8 and following), real processes.

Point 8: every command took SQLite's write lock just to learn that no migration was needed, so
``digest list`` failed after the busy timeout while a cycle (or a VACUUM, or an operator's
shell) held the lock.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults import ROOT, cli_env, run_cli, wait_until, write_config
from tests.httpserver import FixtureServer
from tests.test_faults_digest import seed as _seed
from tests.test_locks import rss, start_fetch
from tests.test_locks import write_config as locks_config
from tests.test_store import Backend, backend  # noqa: F401 - the fixture, per backend

HOLD_WRITE_LOCK = """
import sqlite3, sys, time
from pathlib import Path
path, ready, gate = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
conn = sqlite3.connect(path, isolation_level=None)
conn.execute("BEGIN IMMEDIATE")  # the write lock, as a VACUUM or a long delete holds it
ready.touch()
deadline = time.monotonic() + 120
while not gate.exists() and time.monotonic() < deadline:
    time.sleep(0.01)
conn.execute("ROLLBACK")
"""


def hold_write_lock(database: Path, tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    """Another process holding SQLite's write lock until the returned gate file exists."""
    ready, gate = tmp_path / "lock-held", tmp_path / "lock-release"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITE_LOCK, str(database), str(ready), str(gate)],
        env=cli_env(),
        cwd=ROOT,
        text=True,
    )
    wait_until(ready.exists, "the write lock to be taken")
    return holder, gate


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_read_only_commands_do_not_wait_on_the_write_lock(backend: Backend, tmp_path: Path) -> None:
    feeds_yaml = write_config(tmp_path, backend.url)
    backend.open().close()  # created and migrated, as after any earlier command
    database = Path(backend.url.removeprefix("sqlite:///"))
    holder, gate = hold_write_lock(database, tmp_path)
    try:
        listed = run_cli(feeds_yaml, "digest", "list")
        pending = run_cli(feeds_yaml, "feeds", "pending")
    finally:
        gate.touch()
        holder.wait(timeout=60)

    assert listed.returncode == 0, listed.stderr
    assert "edition" in listed.stdout
    assert pending.returncode == 0, pending.stderr
    assert "0 submission(s) waiting for review" in pending.stderr


# --------------------------------------------------------------------------------------------
# Point 15: a full or read-only output directory


@contextlib.contextmanager
def mounted_tmpfs(where: Path, options: str) -> Iterator[Path]:
    """A real small or read-only filesystem (needs root, as CI and the workplace run)."""
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace')}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.mark.parametrize(("options", "reason"), [
    ("size=16k", "No space left on device"),
    ("ro,size=1m", "Read-only file system"),
])  # fmt: skip
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_full_or_read_only_output_directory_is_one_line(
    backend: Backend, tmp_path: Path, options: str, reason: str
) -> None:
    store = backend.open()
    _seed(store, 40)
    store.close()
    with mounted_tmpfs(tmp_path / "public", options) as public:
        feeds_yaml = write_config(tmp_path, backend.url)
        result = run_cli(feeds_yaml, "publish")
        leftovers = [p.name for p in public.rglob(".tmp-*")]

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot write {public}/")
    assert line.endswith(reason)
    assert leftovers == []


# --------------------------------------------------------------------------------------------
# Point 14: a failed store write floods the log


BODY_MARK = "Confidential-body-text"


def test_a_full_disk_under_the_store_gives_one_line_per_source_and_a_summary(
    tmp_path: Path, http_server: FixtureServer
) -> None:
    paths = [f"/s{i:02d}.rss" for i in range(30)]
    for path in paths:
        items = [(f"g{n}", f"{BODY_MARK} {path} {n} " + "x" * 3000) for n in range(20)]
        http_server.route(
            path, rss(path.strip("/")[:3], items), headers={"Content-Type": "text/xml"}
        )
    # room for the new store (16 KiB pages, and its write-ahead log) and little more
    with mounted_tmpfs(tmp_path / "small", "size=3000k") as small:
        feeds_yaml = locks_config(small, http_server, paths)
        run_cli(feeds_yaml, "feeds", "pending")  # the database created while there is room
        fetch = start_fetch(feeds_yaml)
        out, err = fetch.communicate(timeout=120)

    lines = err.strip().splitlines()
    assert fetch.returncode == 1, out + err
    assert "Traceback" not in err
    assert BODY_MARK not in err + out
    assert len(lines) <= len(paths) + 10, err[-3000:]
    [summary] = [line for line in lines if "sources not saved" in line]
    assert "first cause: database error while" in summary
    assert "full" in summary
    failed = [line for line in lines if "outcome=not-saved" in line]
    assert 0 < len(failed) <= len(paths)
    assert len({line.split("source=")[1].split()[0] for line in failed}) == len(failed)
