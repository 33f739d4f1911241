"""A story is every post the rules connect: aliases are matched too, and a post that matches
two stored stories joins them, so the grouping does not depend on the order posts arrive in
(issue 17, point 5).  Pure rules first, then the store on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aggregator import config
from aggregator.cycle import run_cycle
from aggregator.dedupe import StoryKey, link_key, match, plan_merges, title_key
from aggregator.models import Post, SourceState, SourceUpdate
from aggregator.store import open_store
from aggregator.store.sql import SqlStore
from tests.httpserver import FixtureServer
from tests.test_faults_merges import _config, _rss
from tests.test_store import OTHER, SOURCE, T0, Backend, backend, make_post  # noqa: F401

WHEN = "2026-11-02T00:00:00.000000+00:00"
TITLE = "Local governments publish the climate study"


def _post(pid: str, source: str, title: str, link: str, when: datetime = T0) -> Post:
    return make_post(0, id=pid, source_id=source, title=title, link=link, published=when,
                     updated=when, first_seen=when)  # fmt: skip


def _key(p: Post, story: str = "", seen: datetime | None = None) -> StoryKey:
    return StoryKey(p.id, p.source_id, link_key(p.link), title_key(p.title), p.language,
                    p.published, seen or p.first_seen, story)  # fmt: skip


A = _post("a", "ma", "Cities and the climate: a new study", "https://study.example/r")
B = _post("b", "mb", TITLE, "https://www.study.example/r/")  # A's page, C's title
C = _post("c", "mc", TITLE, "https://mc.example/study")


def _group(order: tuple[Post, ...]) -> list[set[str]]:
    """Store the posts one at a time in ``order`` as the cycle does; the stories formed."""
    stored: list[StoryKey] = []
    for post in order:
        plan = plan_merges([post], stored)
        joined = dict(plan.joins)
        stored = [replace(k, story=joined.get(k.primary, k.story)) for k in stored]
        stored.append(_key(post, plan.merges.get(post.id, "")))
    stories: dict[str, set[str]] = {}
    for k in stored:
        stories.setdefault(k.primary, set()).add(k.source_id)
    return sorted(stories.values(), key=sorted)


@pytest.mark.parametrize("order", list(itertools.permutations([A, B, C])))
def test_a_chain_of_matches_is_one_story_in_every_order(order: tuple[Post, ...]) -> None:
    assert _group(order) == [{"ma", "mb", "mc"}]


def test_a_post_matching_an_alias_joins_its_story() -> None:
    alias = _key(B, story="a", seen=T0 - timedelta(days=1))
    assert match(C, [alias]) == "a"
    assert plan_merges([C], [alias]).merges == {"c": "a"}


def test_a_post_matching_two_stories_joins_them_under_the_first_seen() -> None:
    early, late = _key(A, seen=T0 - timedelta(hours=2)), _key(C)
    plan = plan_merges([B], [late, early])
    assert plan.merges == {"b": "a"}
    assert plan.joins == (("c", "a"),)


def test_a_link_that_names_no_post_never_matches_by_link() -> None:
    """The rule is symmetric: a post whose story link key is "" (its feed's home page, say)
    is not merged by that link, whichever of the two posts was stored first."""
    home = _post("h", "mh", "Home page news of the day here", "https://study.example/r")
    keys = {"h": ("", title_key(home.title))}
    assert plan_merges([home], [_key(A)], keys=keys).merges == {}
    stored_home = StoryKey("h", "mh", "", keys["h"][1], "en", T0, T0)
    assert plan_merges([A], [stored_home]).merges == {}


# --------------------------------------------------------------------------------------------
# The store: aliases found with their keys, joins written in the update's transaction


def _source_update(source: str, posts: tuple[Post, ...] = (), **more: Any) -> SourceUpdate:
    return SourceUpdate(source, SourceState(source, f"https://{source}.example/"), posts, **more)


@pytest.fixture
def stories_store(backend: Backend) -> Any:  # noqa: F811
    store = backend.open()
    sources = [
        replace(SOURCE, id=s, url=f"https://{s}.example/")
        for s in ("ma", "mb", "mc", "md", "me", "mf")
    ]
    store.sync_sources([SOURCE, OTHER, *sources])
    yield store
    store.close()


def _also_from(store: SqlStore) -> dict[str, list[str]]:
    return {p.id: sorted(p.also_from) for p in store.recent_posts(50)}


def test_an_alias_is_a_candidate_of_its_story(stories_store: SqlStore) -> None:
    store = stories_store
    store.apply_updates([_source_update("ma", (A,)), _source_update("mb", merges=((B, "a"),))])
    found = store.story_candidates([], [title_key(TITLE)], "mc")
    assert [(k.post_id, k.primary, k.first_seen) for k in found] == [("b", "a", T0)]
    assert _also_from(store) == {"a": ["mb"]}


def test_a_join_makes_two_stored_stories_one(stories_store: SqlStore) -> None:
    store = stories_store
    d = _post("d", "md", TITLE, "https://md.example/study", T0 + timedelta(hours=1))
    store.apply_updates([_source_update("ma", (A,)), _source_update("mc", (C,))])
    store.apply_update(_source_update("md", merges=((d, "c"),)))
    assert _also_from(store) == {"a": [], "c": ["md"]}

    store.apply_update(_source_update("mb", merges=((B, "a"),), joins=(("c", "a"),)))
    assert _also_from(store) == {"a": ["mb", "mc", "md"]}
    assert store.count_posts() == 1
    assert store.alias_targets("mc", ["c"]) == {"c": "a"}
    assert store.alias_targets("md", ["d"]) == {"d": "a"}  # the demoted story's alias moved
    found = store.story_candidates([], [title_key(TITLE)], "mb")
    assert sorted((k.post_id, k.primary) for k in found) == [("c", "a"), ("d", "a")]


def test_a_mailed_story_is_never_demoted(stories_store: SqlStore, backend: Backend) -> None:  # noqa: F811
    store = stories_store
    store.apply_updates([_source_update("ma", (A,)), _source_update("mc", (C,))])
    backend.raw(
        "INSERT INTO editions (id, name, window_end, created, post_ids, subject) VALUES "
        f"('e1', 'weekly', '{WHEN}', '{WHEN}', '{json.dumps(['c'])}', 'Weekly')"
    )
    store.apply_update(_source_update("mb", merges=((B, "a"),), joins=(("c", "a"),)))
    assert _also_from(store) == {"c": ["ma", "mb"]}  # "a" joined the story the digest sent


# --------------------------------------------------------------------------------------------
# The cycle, in process: the same grouping whichever members an earlier cycle stored

CHAIN = {  # ka~kb by link, kb~kc~kd by title; ka shares nothing with kc or kd
    "ka": ("https://study.example.org/report-2026", "Cities and the climate: a new study"),
    "kb": ("https://www.study.example.org/report-2026/", TITLE),
    "kc": ("https://kc.example/news/study", TITLE),
    "kd": ("https://kd.example/study", TITLE),
}


@pytest.mark.parametrize("first", [[], ["ka"], ["kc"], ["ka", "kc"], ["kb", "kd"]])
def test_the_cycle_makes_one_story_whichever_members_an_earlier_cycle_stored(
    backend: Backend,  # noqa: F811
    tmp_path: Path,
    http_server: FixtureServer,
    first: list[str],
) -> None:
    for name, (link, title) in CHAIN.items():
        items = [(link, title, "Mon, 16 Nov 2026 09:00:00 +0000"),
                 (f"https://{name}.example/other", f"Another post from {name} this week",
                  "Sun, 15 Nov 2026 09:00:00 +0000")]  # fmt: skip
        http_server.route(f"/{name}.rss", _rss(name, items), headers={"Content-Type": "text/xml"})
    settings = config.load(_config(tmp_path, http_server, backend.url, CHAIN))
    store = open_store(settings.storage_url)
    try:
        if first:
            run_cycle(settings, store, only=first, workers=1)
        run_cycle(settings, store, workers=1)
        stories = sorted(sorted({p.source_id, *p.also_from}) for p in store.recent_posts(50))
    finally:
        store.close()
    assert stories == [["ka"], ["ka", "kb", "kc", "kd"], ["kb"], ["kc"], ["kd"]]


def test_stories_both_mailed_stay_apart_and_a_merge_follows_a_join(
    stories_store: SqlStore,
    backend: Backend,  # noqa: F811
) -> None:
    store = stories_store
    store.apply_updates([_source_update("ma", (A,)), _source_update("mc", (C,))])
    store.apply_update(_source_update("mb", merges=((B, "a"),), joins=(("c", "a"),)))
    d = _post("d", "md", TITLE, "https://md.example/study")
    store.apply_update(_source_update("md", merges=((d, "c"),), joins=(("c", "a"),)))
    assert _also_from(store) == {"a": ["mb", "mc", "md"]}  # "c" was joined: "d" follows it
    assert store.alias_targets("md", ["d"]) == {"d": "a"}

    e = _post("e", "me", "Two mailed stories, one subject", "https://e.example/x")
    f = _post("f", "mf", "Two mailed stories, one subject", "https://f.example/x")
    store.apply_updates([_source_update("me", (e,)), _source_update("mf", (f,))])
    backend.raw(
        "INSERT INTO editions (id, name, window_end, created, post_ids, subject) VALUES "
        f"('e2', 'weekly', '{WHEN}', '{WHEN}', '{json.dumps(['e', 'f'])}', 'Weekly')"
    )
    store.apply_update(_source_update("md", joins=(("f", "e"),)))
    assert store.count_posts() == 3  # a, and the two mailed ones kept apart
