"""Merges do not depend on which sources share a cycle (issue 17, point 5).

After a SIGKILL in an update cycle on PostgreSQL, two stories were stored twice instead of
merged, where a clean run merged them: the cycle that resumed saw some sources already stored
and the others not.  The same state is reached here without a kill (``fetch --only`` the first
sources, then ``fetch`` all of them), on SQLite and PostgreSQL, and compared with one clean run.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from aggregator import config
from aggregator.store import open_store
from tests.faults import run_cli, wait_until
from tests.httpserver import FixtureServer
from tests.test_locks import blocking_route, kill_group, start_fetch
from tests.test_locks import write_config as locks_config
from tests.test_store import Backend, backend  # noqa: F401 - the fixture, per backend

# Three members announce the same two stories: one by the same page, linked three ways (a
# "www.", a trailing slash, another scheme), one by the same title in the same language.
STUDY = "Cities and the climate: a new study"
WATER = "Water utilities come back to public hands"
DAY = "Nov 2026 {hour}:00:00 +0000"
STORIES = {
    "ma": [
        ("https://study.example.org/report-2026", STUDY, "Mon, 16 " + DAY.format(hour="09")),
        ("https://ma.example/news/water", WATER, "Tue, 17 " + DAY.format(hour="09")),
    ],
    "mb": [
        (
            "https://www.study.example.org/report-2026/",
            "New study",
            "Mon, 16 " + DAY.format(hour=12),
        ),
        ("https://mb.example/2026/water", WATER, "Wed, 18 " + DAY.format(hour="08")),
    ],
    "mc": [
        (
            "http://study.example.org/report-2026",
            "Study: climate",
            "Mon, 16 " + DAY.format(hour=15),
        ),
        ("https://mc.example/water", WATER + "!", "Wed, 18 " + DAY.format(hour=10)),
    ],
}


def _rss(name: str, items: list[tuple[str, str, str]]) -> bytes:
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>{date}</pubDate><description>{title}, as {name} tells it.</description></item>"
        for link, title, date in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{name}</title>'
        f"<link>https://{name}.example/</link>{body}</channel></rss>"
    ).encode()


def _config(directory: Path, server: FixtureServer, storage_url: str, names: Any = STORIES) -> Path:
    path = locks_config(directory, server, [f"/{name}.rss" for name in names])
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("output_dir: out}", f"output_dir: out, storage_url: '{storage_url}'}}"),
        encoding="utf-8",
    )
    return path


def _stories(feeds_yaml: Path) -> list[list[str]]:
    """Each stored story as the sorted members that published it (the one it is stored under
    is the member that was seen first: that may differ, the grouping may not)."""
    store = open_store(config.load(feeds_yaml).storage_url)
    try:
        posts = store.recent_posts(5000)
    finally:
        store.close()
    return sorted(sorted({p.source_id, *p.also_from}) for p in posts)


def _second_store(backend: Backend, tmp_path: Path) -> str:
    if backend.name == "sqlite":
        return f"sqlite:///{tmp_path / 'clean' / 'aggregator.sqlite3'}"
    schema = "t_clean_" + Path(tmp_path).name[-8:].replace("-", "_").lower()
    backend.raw(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    backend.raw(f"CREATE SCHEMA {schema}")
    return backend.url.rsplit("%3D", 1)[0] + f"%3D{schema}"


@pytest.mark.parametrize("first", [["ma"], ["mb", "mc"], ["mc"]])
def test_the_merge_is_the_same_whichever_sources_came_first(
    backend: Backend, tmp_path: Path, http_server: FixtureServer, first: list[str]
) -> None:
    for name, items in STORIES.items():
        http_server.route(f"/{name}.rss", _rss(name, items), headers={"Content-Type": "text/xml"})
    resumed = _config(tmp_path / "resumed", http_server, backend.url)
    clean = _config(tmp_path / "clean", http_server, _second_store(backend, tmp_path))

    outcomes: list[Any] = [run_cli(clean, "fetch")]
    only = [arg for name in first for arg in ("--only", name)]
    outcomes.append(run_cli(resumed, "fetch", *only))  # the part a killed cycle stored
    outcomes.append(run_cli(resumed, "fetch"))  # the cycle after it

    assert [o.returncode for o in outcomes] == [0, 0, 0], [o.stderr[-2000:] for o in outcomes]
    expected = [["ma", "mb", "mc"], ["ma", "mb", "mc"]]  # two stories, each from all three
    assert _stories(clean) == expected
    assert _stories(resumed) == expected


# --------------------------------------------------------------------------------------------
# The same, with real kills: ``fetch`` SIGKILLed once some members' posts are committed.

# One story reaches three members by two different rules: "ka" and "kb" link the same page
# ("www." and a trailing slash apart), "kb" and "kc" give it the same title in the same
# language; "ka" and "kc" share nothing.  It is one story whichever member is stored first.
CHAIN = {
    "ka": ("https://study.example.org/report-2026", "Cities and the climate: a new study"),
    "kb": ("https://www.study.example.org/report-2026/", "Local governments publish the study"),
    "kc": ("https://kc.example/news/study", "Local governments publish the study"),
}
# Posts a member publishes besides the story: enough (``cycle.POST_BATCH``) that its update is
# committed in a transaction of its own, while the others' fetches are still held.
FILLERS = 400


def _chain_feed(name: str) -> bytes:
    link, title = CHAIN[name]
    items = [(link, title, "Mon, 16 " + DAY.format(hour="09"))]
    items += [
        (f"https://{name}.example/notes/{n}", f"{name} weekly note number {n}",
         f"Sun, 15 Nov 2026 {n % 24:02d}:{n % 60:02d}:00 +0000")
        for n in range(FILLERS)
    ]  # fmt: skip
    return _rss(name, items)


def _url_of(feeds_yaml: Path) -> str:
    return config.load(feeds_yaml).storage_url


def _committed(backend: Backend, names: list[str]) -> bool:
    try:
        rows = backend.raw("SELECT source_id, count(*) FROM posts GROUP BY source_id")
    except Exception:  # not created yet: the child is still migrating
        return False
    counts = {source: int(n) for source, n in rows}
    return all(counts.get(name, 0) >= FILLERS for name in names)


def _kill_once_committed(
    config: Path, backend: Backend, server: FixtureServer, first: list[str]
) -> None:
    """``fetch`` with every member but ``first`` held at the HTTP server; SIGKILLed as soon as
    the store holds the posts of ``first`` (a bounded wait on the database, no sleep)."""
    held = [name for name in CHAIN if name not in first]
    with ExitStack() as stack:
        for name in held:
            stack.enter_context(blocking_route(server, f"/{name}.rss", _chain_feed(name)))
        proc = start_fetch(config)
        try:
            wait_until(
                lambda: proc.poll() is not None or _committed(backend, first),
                f"the posts of {first} to be committed",
            )
            if proc.poll() is not None:
                err = proc.communicate()[1]
                raise AssertionError(f"fetch ended before the kill: {err[-3000:]}")
        finally:
            kill_group(proc)


@pytest.mark.parametrize("first", [["ka"], ["kb"], ["kc"], ["ka", "kc"]])
def test_a_sigkill_between_members_commits_leaves_one_story(
    backend: Backend, tmp_path: Path, http_server: FixtureServer, first: list[str]
) -> None:
    for name in CHAIN:
        http_server.route(f"/{name}.rss", _chain_feed(name), headers={"Content-Type": "text/xml"})
    crashed = _config(tmp_path / "crashed", http_server, backend.url, CHAIN)
    text = crashed.read_text(encoding="utf-8")  # every filler is kept: they fill a batch
    crashed.write_text(text.replace("total_timeout_s: 60", "total_timeout_s: 60, max_entries: 500"))
    _kill_once_committed(crashed, backend, http_server, first)
    assert _committed(backend, first)
    assert not any(_committed(backend, [name]) for name in CHAIN if name not in first)
    for name in CHAIN:  # the held routes answer again, as after an outage
        http_server.route(f"/{name}.rss", _chain_feed(name), headers={"Content-Type": "text/xml"})
    restarted = run_cli(crashed, "fetch")
    assert restarted.returncode == 0, restarted.stderr[-2000:]

    clean = _config(tmp_path / "clean", http_server, _second_store(backend, tmp_path), CHAIN)
    clean.write_text(crashed.read_text(encoding="utf-8").replace(backend.url, _url_of(clean)))
    uninterrupted = run_cli(clean, "fetch")
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-2000:]

    got = _stories(crashed)
    assert [s for s in got if len(s) > 1] == [["ka", "kb", "kc"]]  # one story, naming all three
    assert len(got) == 1 + FILLERS * len(CHAIN)
    assert got == _stories(clean)
