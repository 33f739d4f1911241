"""The same story from several members is stored, published and mailed once, naming them all."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import feedparser
import pytest

from aggregator import config
from aggregator import cycle as app
from aggregator.cycle import run_cycle
from aggregator.dedupe import StoryKey, find_duplicates, link_key, story_link_keys, title_key
from aggregator.models import Post
from aggregator.newsletter.digest import preview
from aggregator.publish.publisher import publish_all
from aggregator.store import open_store
from tests.httpserver import FixtureServer
from tests.stores import at_head


def _post(pid: str, source: str, title: str, link: str, when: datetime, lang: str = "en") -> Post:
    return Post(
        id=pid,
        source_id=source,
        guid=None,
        title=title,
        link=link,
        published=when,
        updated=when,
        first_seen=when,
        language=lang,
        excerpt="",
        content_html="",
    )


def _key(p: Post, first_seen: datetime) -> StoryKey:
    return StoryKey(
        p.id, p.source_id, link_key(p.link), title_key(p.title), p.language, p.published, first_seen
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://platforma-dev.eu/news/study/", "http://www.platforma-dev.eu/news/study"),
        ("https://x.org/a?b=2&a=1", "https://x.org/a?a=1&b=2"),
        ("https://X.org:443/a", "https://x.org/a"),
    ],
)
def test_link_keys_ignore_what_sites_vary(a: str, b: str) -> None:
    assert link_key(a) == link_key(b)


def test_title_keys_fold_case_accents_and_punctuation_but_not_short_titles() -> None:
    assert title_key("Résilience : les villes s’organisent!") == title_key(
        "resilience les villes s organisent"
    )
    assert title_key("News") == ""


def test_rules_link_then_title_in_same_language_within_the_window(now: datetime) -> None:
    stored = _post(
        "cemr:1", "cemr", "Localising the global goals: a new study", "https://a.org/s", now
    )
    keys = [_key(stored, now)]
    same_link = _post("uclg:9", "uclg", "Another title entirely here", "https://www.a.org/s/", now)
    same_title = _post(
        "pf:3",
        "pf",
        "Localising the Global Goals – a new study",
        "https://b.org/x",
        now + timedelta(days=2),
    )
    late = _post(
        "pf:4",
        "pf",
        "Localising the global goals: a new study",
        "https://b.org/y",
        now + timedelta(days=30),
    )
    other_lang = _post(
        "pf:5", "pf", "Localising the global goals: a new study", "https://b.org/z", now, lang="fr"
    )
    own_source = _post(
        "cemr:2", "cemr", "Localising the global goals: a new study", "https://a.org/s", now
    )
    merges = find_duplicates([same_link, same_title, late, other_lang, own_source], keys)
    assert merges == {"uclg:9": "cemr:1", "pf:3": "cemr:1"}


def _rss(items: list[tuple[str, str, str]]) -> str:
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{g}</guid>"
        "<pubDate>Mon, 02 Nov 2026 10:00:00 +0000</pubDate>"
        "<description>Local and regional governments across Europe pave the way.</description>"
        "</item>"
        for t, link, g in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><link>https://x.org/</link>{body}</channel></rss>'


def _three_sources(http_server: FixtureServer, tmp_path: Path) -> Path:
    title = STUDY_TITLE
    http_server.route(
        "/cemr.rss",
        _rss([(title, "https://platforma-dev.eu/news/study", "c1")]),
        headers={"Content-Type": "application/rss+xml"},
    )
    http_server.route(
        "/pf.rss",
        _rss(
            [
                (title, "https://platforma-dev.eu/news/study?fbclid=z", "p1"),
                ("Another post about water in cities", "https://platforma-dev.eu/w", "p2"),
            ]
        ),
        headers={"Content-Type": "application/rss+xml"},
    )
    http_server.route(
        "/uclg.rss",
        _rss(
            [
                (
                    "Local governments pave the way for the goals",
                    "https://www.platforma-dev.eu/news/study/",
                    "u1",
                )
            ]
        ),
        headers={"Content-Type": "application/rss+xml"},
    )
    lines = [
        "site:",
        "  title: Net",
        f"fetch:\n  allow_private: ['{http_server.hostport}']",
        "sources:",
    ]
    for sid, org in (("cemr", "CEMR"), ("pf", "PLATFORMA"), ("uclg", "UCLG")):
        lines += [
            f"  - id: {sid}",
            f"    name: {org}",
            f"    organisation: {org}",
            f"    url: {http_server.url('/' + sid + '.rss')}",
        ]
    path = tmp_path / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


STUDY_TITLE = "Localising the global goals: a new study by PLATFORMA and CEMR"


def test_a_story_from_three_sources_appears_once_everywhere_naming_all_three(
    http_server: FixtureServer, tmp_path: Path, now: datetime
) -> None:
    title = STUDY_TITLE
    settings = config.load(_three_sources(http_server, tmp_path))
    store = open_store(at_head(settings.storage_url))
    try:
        for _ in range(2):  # a second cycle must not add a copy either
            run_cycle(settings, store, clock=lambda: now, only=["cemr"])
            run_cycle(settings, store, clock=lambda: now + timedelta(minutes=1))
        stored = store.recent_posts(100)
        study = [p for p in stored if "platforma-dev.eu/news/study" in p.link]
        assert len(study) == 1
        assert study[0].source_id == "cemr"
        assert set(study[0].also_from) == {"pf", "uclg"}
        assert store.count_posts() == 2

        publish_all(store, settings, now + timedelta(minutes=2))
        feed = feedparser.parse((settings.output_dir / "feed.atom").read_bytes())
        matching = [e for e in feed.entries if "platforma-dev.eu/news/study" in e.link]
        assert len(matching) == 1
        contributors = {c["name"] for c in matching[0].get("contributors", [])}
        assert contributors == {"PLATFORMA", "UCLG"}  # CEMR is its atom:source
        assert matching[0].source.title
        files = preview(
            store, settings, settings.digest.editions[0].name, now + timedelta(minutes=3)
        )
        text = Path(files.text_path).read_text(encoding="utf-8")
        assert text.count(title) == 1
        for org in ("CEMR", "PLATFORMA", "UCLG"):
            assert org in text
    finally:
        store.close()


@pytest.mark.parametrize("kept", [10_000, 1], ids=["kept-in-memory", "asked-of-the-store"])
def test_a_first_cycle_merges_across_its_own_batched_writes(
    http_server: FixtureServer,
    tmp_path: Path,
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
    kept: int,
) -> None:
    """An empty store is not asked for candidates: the cycle's own writes must stand in, and
    past ``WRITTEN_STORIES`` of them (a network-sized first cycle) the store answers again."""

    monkeypatch.setattr(app, "STATE_BATCH", 1)  # every source written in its own batch
    monkeypatch.setattr(app, "WRITTEN_STORIES", kept)
    settings = config.load(_three_sources(http_server, tmp_path))
    store = open_store(at_head(settings.storage_url))
    try:
        run_cycle(settings, store, clock=lambda: now)
        study = [p for p in store.recent_posts(100) if "platforma-dev.eu/news/study" in p.link]
        assert len(study) == 1
        assert {study[0].source_id, *study[0].also_from} == {"cemr", "pf", "uclg"}
        assert store.count_posts() == 2
    finally:
        store.close()


def test_a_link_that_names_no_post_never_merges_across_sources(
    http_server: FixtureServer, tmp_path: Path, now: datetime
) -> None:
    """A podcast whose every episode links the show's home page, beside another member's one
    post linking that same page: every episode is stored, none is merged away."""
    show = "https://radio.example.org/"
    episodes = [(f"Episode {n}: mayors on housing and water", show, f"e{n}") for n in range(124)]
    http_server.route("/pod.rss", _rss(episodes), headers={"Content-Type": "application/rss+xml"})
    other = [("Our partners launch a radio show on cities", show, "o1")]
    http_server.route("/news.rss", _rss(other), headers={"Content-Type": "application/rss+xml"})
    bare = [("A bare domain names no single post at all", "https://cities.example.net", "b1")]
    http_server.route("/bare.rss", _rss(bare), headers={"Content-Type": "application/rss+xml"})
    lines = ["site:", "  title: Net", f"fetch:\n  allow_private: ['{http_server.hostport}']"]
    lines.append("sources:")
    for sid in ("news", "pod", "bare"):
        lines += [f"  - {{id: {sid}, name: {sid}, organisation: {sid}, "
                  f"url: '{http_server.url('/' + sid + '.rss')}'}}"]  # fmt: skip
    path = tmp_path / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = config.load(path)
    store = open_store(at_head(settings.storage_url))
    try:
        report = run_cycle(settings, store, clock=lambda: now, workers=1)
        assert report.new_posts == 126
        assert store.count_posts() == 126
    finally:
        store.close()


def test_story_link_keys_drop_shared_home_and_bare_links() -> None:
    links = [
        "https://a.org/news/1",
        "https://a.org/show",
        "https://a.org/show/",
        "https://b.org",
        "https://a.org/",
        None,
    ]
    keys = story_link_keys(links, ["https://a.org/"])
    assert keys == ["a.org/news/1", "", "", "", "", ""]
