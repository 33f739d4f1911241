"""Member submissions under concurrency (issue 17, points 1 and 4), with real processes.

Point 1: approvals racing each other (``feeds approve 1 & feeds approve 2 & …``) each rewrote
feeds.yaml from what they had read; the last rename won, every command said "added", every
submission became approved, and the other sources were lost.

Point 4: confirmations racing each other each passed the "already waiting?" check before any
wrote, and queued a copy each.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config

from aggregator import config
from aggregator.store import open_store
from aggregator.store.engine import MIGRATIONS_DIR, create_store_engine
from aggregator.store.submissions import NewSubmission
from tests.faults import ROOT, cli_env, race, run_cli, wait_until, write_config
from tests.test_store import T0, Backend, backend  # noqa: F401 - the fixture, per backend

FEEDS = [f"https://town{n}.example.org/feed.xml" for n in range(1, 5)]


def _submission(n: int, feed_url: str) -> NewSubmission:
    return NewSubmission(
        url=feed_url,
        feed_url=feed_url,
        organisation=f"Town {n}",
        contact=f"web@town{n}.example",
        language="en",
        preview_json=f'{{"title": "Town {n} news"}}',
    )


def test_concurrent_approvals_keep_every_source(backend: Backend, tmp_path: Path) -> None:
    feeds_yaml = write_config(tmp_path, backend.url)
    store = backend.open()
    ids = [store.add_submission(_submission(n, url), T0) for n, url in enumerate(FEEDS, 1)]
    store.close()

    results = race(feeds_yaml, [("feeds", "approve", str(ident)) for ident in ids])

    assert [code for code, _, _ in results] == [0] * len(ids), results
    configured = {s.url: s for s in config.load(feeds_yaml).sources}
    assert sorted(configured) == sorted(FEEDS)  # nobody's source was lost
    assert len({s.id for s in configured.values()}) == len(FEEDS)  # and no id given twice
    store = backend.open()
    decided = [store.get_submission(ident) for ident in ids]
    store.close()
    for sub in decided:
        assert sub is not None and sub.state == "approved"
        assert configured[sub.feed_url].id == sub.source_id
        assert configured[sub.feed_url].contact == sub.contact


def test_an_approval_cut_short_after_writing_is_completed_by_approving_again(
    backend: Backend, tmp_path: Path
) -> None:
    """The source is in feeds.yaml but the submission still pending (the approving process
    died between the two): approving again marks it approved, without a second entry."""
    feeds_yaml = write_config(tmp_path, backend.url)
    store = backend.open()
    ident = store.add_submission(_submission(1, FEEDS[0]), T0)
    store.close()
    first = run_cli(feeds_yaml, "feeds", "approve", str(ident))
    assert first.returncode == 0, first.stderr
    backend.raw("UPDATE submissions SET state = 'pending', source_id = NULL, decided = NULL")

    again = run_cli(feeds_yaml, "feeds", "approve", str(ident))

    assert again.returncode == 0, again.stderr
    assert [s.url for s in config.load(feeds_yaml).sources] == [FEEDS[0]]
    store = backend.open()
    sub = store.get_submission(ident)
    store.close()
    assert sub is not None and sub.state == "approved" and sub.source_id == "town-1"


_CONFIRM = """
import sys, time
from pathlib import Path
from datetime import datetime, UTC
from aggregator.store import open_store
from aggregator.store.submissions import NewSubmission
url, gate, n = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
store = open_store(url)
store.count_posts()  # connected and migrated before the gate opens
(gate.parent / f"ready-{n}").touch()
while not gate.exists():
    time.sleep(0.005)
feed = "https://same.example.org/feed.xml"
new = NewSubmission(feed, feed, "Same town " + n, f"m{n}@same.example", "en", "{}")
print(store.add_submission(new, datetime(2026, 11, 20, tzinfo=UTC)))
store.close()
"""


def test_concurrent_confirmations_queue_one_submission(backend: Backend, tmp_path: Path) -> None:
    backend.open().close()  # migrated once, so the racers only race on the insert
    gate = tmp_path / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _CONFIRM, backend.url, str(gate), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(),
            cwd=ROOT,
        )
        for n in range(8)
    ]
    wait_until(lambda: len(list(tmp_path.glob("ready-*"))) == len(racers), "the racers")
    gate.touch()
    outputs = [p.communicate(timeout=60) for p in racers]

    assert [p.returncode for p in racers] == [0] * len(racers), outputs
    store = backend.open()
    pending = store.list_submissions("pending")
    store.close()
    assert len(pending) == 1  # one entry for moderators, whoever confirmed first
    assert {int(out) for out, _ in outputs} == {pending[0].id}  # every member sees that one


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_upgrading_keeps_one_pending_copy_of_each_feed(backend: Backend) -> None:
    """Copies queued by the old race are settled by the migration that adds the index."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    engine = create_store_engine(backend.url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")
    engine.dispose()
    for n in range(3):
        backend.raw(
            "INSERT INTO submissions (url, feed_url, organisation, contact, language, preview,"
            f" state, created) VALUES ('u', 'https://dup.example/feed', 'Dup {n}', 'c', 'en',"
            " '{}', 'pending', '2026-11-20T12:00:00.000000+00:00')"
        )

    store = open_store(backend.url)
    pending = store.list_submissions("pending")
    everything = store.list_submissions(None)
    store.close()

    assert [s.organisation for s in pending] == ["Dup 0"]
    assert [s.reason for s in everything if s.state == "rejected"] == [
        f"duplicate of submission {pending[0].id}"
    ] * 2
