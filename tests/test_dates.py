"""ingest/dates.py, the one reader of dates: a table of spellings, then the whole pipeline.

The table holds what members' feeds and listing pages write, each with the date a reader of the
site should see (``None``: the post falls back to when it was first seen).  The pipeline tests
serve an RSS feed, an Atom feed, a JSON Feed and an HTML listing page on the loopback test
server, run a real cycle (fetch, parse or scrape, normalise, store) and read the stored posts:
``25-03-2022`` is 25 March 2022 and a zero date is missing, wherever the date comes from.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator import config
from aggregator.cycle import run_cycle
from aggregator.i18n.calendar_names import month_spellings
from aggregator.ingest.dates import LANGUAGES, read_date
from aggregator.models import Post
from aggregator.store import open_store
from tests.httpserver import FixtureServer
from tests.stores import at_head


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


# (text, day_first, expected)
SPELLINGS: list[tuple[str, bool, datetime | None]] = [
    # RFC 822: with and without weekday, numeric, named and obsolete zones
    ("Mon, 02 Nov 2026 10:00:00 +0000", False, utc(2026, 11, 2, 10)),
    ("2 Nov 2026 10:00:00 +0000", False, utc(2026, 11, 2, 10)),
    ("Tue, 10 Jun 2003 04:00:00 +0200", False, utc(2003, 6, 10, 2)),
    ("Tue, 10 Jun 2003 04:00:00 -0330", False, utc(2003, 6, 10, 7, 30)),
    ("Mon, 02 Nov 2026 10:00:00 +01:00", False, utc(2026, 11, 2, 9)),
    ("Mon, 02 Nov 2026 10:00:00 GMT", False, utc(2026, 11, 2, 10)),
    ("Mon, 02 Nov 2026 10:00:00 UT", False, utc(2026, 11, 2, 10)),
    ("Mon, 02 Nov 2026 10:00:00 Z", False, utc(2026, 11, 2, 10)),
    ("Mon, 02 Nov 2026 10:00:00 EST", False, utc(2026, 11, 2, 15)),
    ("Mon, 02 Nov 2026 10:00:00 PDT", False, utc(2026, 11, 2, 17)),
    ("Mon, 02 Nov 2026 10:00:00 CET", False, utc(2026, 11, 2, 9)),
    ("Mon, 02 Nov 2026 10:00:00 GMT+1", False, utc(2026, 11, 2, 9)),
    ("Mon, 02 Nov 2026 10:00:00 XYZ", False, utc(2026, 11, 2, 10)),  # unknown: UTC (RFC 5322)
    ("Mon, 02 Nov 2026 10:00:00 Europe/Paris", False, utc(2026, 11, 2, 9)),
    ("Thu, 02 Jul 2026 10:00:00 Europe/Paris", False, utc(2026, 7, 2, 8)),  # summer time
    ("Mon, 2 Nov 2026 10:00 GMT", False, utc(2026, 11, 2, 10)),
    ("Monday, 02 November 2026 10:00:00 GMT", False, utc(2026, 11, 2, 10)),
    ("Mon, 02 Nov 26 10:00:00 GMT", False, utc(2026, 11, 2, 10)),
    ("Sun Jan  4 16:29:06 PST 2004", False, utc(2004, 1, 5, 0, 29, 6)),  # asctime
    ("Fri, 31 Feb 2023 10:00:00 GMT", False, None),
    # ISO 8601 / RFC 3339: with and without time, zone, fractions
    ("2026-11-18T10:00:00Z", False, utc(2026, 11, 18, 10)),
    ("2026-11-18T15:00:00+01:00", False, utc(2026, 11, 18, 14)),
    ("2026-11-18T15:00:00.123456+01:00", False, utc(2026, 11, 18, 14)),
    ("2026-11-18t10:00:00z", False, utc(2026, 11, 18, 10)),
    ("2026-11-18 15:00:00", False, utc(2026, 11, 18, 15)),
    ("2026-11-18T15:00", False, utc(2026, 11, 18, 15)),
    ("2026-11-18", False, utc(2026, 11, 18)),
    ("20261118T150000Z", False, utc(2026, 11, 18, 15)),
    ("2026-11", False, utc(2026, 11, 1)),
    ("2024-12-31T23:30:00-01:00", False, utc(2025, 1, 1, 0, 30)),
    ("2024-02-29T10:00:00-05:00", False, utc(2024, 2, 29, 15)),
    ("2026-07-02T10:00:00 America/Sao_Paulo", False, utc(2026, 7, 2, 13)),
    ("2026-07-02T10:00:00 Nowhere/Atlantis", False, None),
    ("2024-02-30T25:61:00Z", False, None),
    ("2016/6/29", False, utc(2016, 6, 29)),
    ("2024.03.05", True, utc(2024, 3, 5)),
    # numeric, day-first and month-first: a number above 12 settles it, else day_first does
    ("25-03-2022", False, utc(2022, 3, 25)),
    ("25-03-2022", True, utc(2022, 3, 25)),
    ("25/03/2022", False, utc(2022, 3, 25)),
    ("25.03.2022", False, utc(2022, 3, 25)),
    ("03/04/2024", True, utc(2024, 4, 3)),
    ("03/04/2024", False, utc(2024, 3, 4)),
    ("03-04-2024", True, utc(2024, 4, 3)),
    ("03.04.2024", False, utc(2024, 3, 4)),
    ("12/25/2024", True, utc(2024, 12, 25)),
    ("28/09/2018 14h30", True, utc(2018, 9, 28, 14, 30)),
    ("25/03/2022 10:00 PM", False, utc(2022, 3, 25, 22)),
    ("31/02/2022", True, None),
    ("99/99/9999", True, None),
    # two-digit years: 00-68 are 20xx, 69-99 are 19xx
    ("03/11/99", True, utc(1999, 11, 3)),
    ("03/11/99", False, utc(1999, 3, 11)),
    ("25.03.24", False, utc(2024, 3, 25)),
    ("05/06/68", True, utc(2068, 6, 5)),
    ("05/06/90", True, utc(1990, 6, 5)),
    # zero dates: a CMS's empty value, not a publication date
    ("0001-01-01", False, None),
    ("0001-01-01T00:00:00+01:00", False, None),
    ("0000-00-00", False, None),
    ("0000-00-00 00:00:00", False, None),
    ("1970-01-01T00:00:00Z", False, None),
    ("Thu, 01 Jan 1970 00:00:00 +0000", False, None),
    ("Wed, 31 Dec 1969 19:00:00 EST", False, None),
    ("Mon, 01 Jan 0001 00:00:00 +0000", False, None),
    ("01/01/69", True, None),
    ("9999-12-31T23:59:59-01:00", False, None),  # year 10000 once in UTC
    # month and weekday names: six languages, full and abbreviated, with and without accents
    ("Seg, 24 Set 2018", False, utc(2018, 9, 24)),
    ("Lun, 08 Ene 2024", False, utc(2024, 1, 8)),
    ("Mar, 05 Mar 2024 10:00:00 +0100", False, utc(2024, 3, 5, 9)),
    ("mardi 5 mars 2024", False, utc(2024, 3, 5)),
    ("le 5 mars 2024 à 14h30", False, utc(2024, 3, 5, 14, 30)),
    ("1er janvier 2024", False, utc(2024, 1, 1)),
    ("5 févr. 2024", False, utc(2024, 2, 5)),
    ("5 fevr 2024", False, utc(2024, 2, 5)),
    ("5 sept. 2024", False, utc(2024, 9, 5)),
    ("5 de marzo de 2024", False, utc(2024, 3, 5)),
    ("miércoles, 6 de noviembre de 2024", False, utc(2024, 11, 6)),
    ("miercoles 6 nov 2024", False, utc(2024, 11, 6)),
    ("terça-feira, 5 de março de 2024 às 10:30", False, utc(2024, 3, 5, 10, 30)),
    ("5 de marco de 2024", False, utc(2024, 3, 5)),
    ("1º de janeiro de 2024", False, utc(2024, 1, 1)),
    ("martedì 5 marzo 2024 ore 10:30", False, utc(2024, 3, 5, 10, 30)),
    ("martedi 5 mar 2024", False, utc(2024, 3, 5)),
    ("5 ago 2024", False, utc(2024, 8, 5)),
    ("24. März 2024", False, utc(2024, 3, 24)),
    ("24. Mär. 2024", False, utc(2024, 3, 24)),
    ("Montag, 24. März 2024 um 10:00 Uhr", False, utc(2024, 3, 24, 10)),
    ("So., 1. Dez. 2024", False, utc(2024, 12, 1)),
    ("March 5, 2024", False, utc(2024, 3, 5)),
    ("Tuesday, March 5th, 2024 at 3:30 pm", False, utc(2024, 3, 5, 15, 30)),
    ("5 Sept 2024", False, utc(2024, 9, 5)),
    ("dinsdag 5 maart 2024", False, utc(2024, 3, 5)),
    ("5 de març de 2024", False, utc(2024, 3, 5)),
    # unreadable: no guess
    ("yesterday", False, None),
    ("", False, None),
    ("janv. 2024", False, None),
    ("5 mars", False, None),
    ("next Tuesday 5 March 2024", False, None),
    ("2024-W10-2", False, None),
]


@pytest.mark.parametrize(("text", "day_first", "expected"), SPELLINGS, ids=lambda v: repr(v))
def test_spelling(text: str, day_first: bool, expected: datetime | None) -> None:
    assert read_date(text, day_first=day_first) == expected


def test_the_table_is_large_and_covers_every_language() -> None:
    assert len(SPELLINGS) >= 60
    assert {"en", "fr", "es", "pt", "it", "de"} <= set(LANGUAGES)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_cldr_month_name_reads_as_its_month(language: str) -> None:
    """The names come from Babel's CLDR data, so every one of them is read back."""
    for width in ("wide", "abbreviated"):
        for month, names in month_spellings(language, width).items():
            for name in names:
                text = f"5 {name} 2024"
                assert read_date(text) == utc(2024, month, 5), (language, width, text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40) | st.from_regex(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}( \d\d:\d\d)?"))
def test_any_text_gives_an_aware_utc_date_or_none(text: str) -> None:
    value = read_date(text)
    assert value is None or (value.utcoffset() is not None and value.year >= 1990)


# --------------------------------------------------------------------------------------------
# Wherever the date comes from: the whole pipeline, over loopback HTTP

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DATED = "Budget vote"
ZERO = "Water plan"

# RSS with an author: read by feedparser, not the fast path
RSS = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>City</title><link>https://city.example.org/</link>
<item><title>{DATED}</title><link>https://city.example.org/budget</link>
<author>press@city.example.org (Press)</author><pubDate>25-03-2022</pubDate></item>
<item><title>{ZERO}</title><link>https://city.example.org/water</link>
<pubDate>Mon, 01 Jan 0001 00:00:00 +0000</pubDate></item>
<item><title>Old archive</title><link>https://city.example.org/archive</link>
<pubDate>03/11/99</pubDate></item>
</channel></rss>"""
# plain Atom 1.0: read by the fast path
ATOM = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Region</title><id>urn:region</id>
<entry><title>{DATED}</title><id>urn:region:1</id>
<link href="https://region.example.org/budget"/><published>25-03-2022</published></entry>
<entry><title>{ZERO}</title><id>urn:region:2</id>
<link href="https://region.example.org/water"/><updated>0001-01-01T00:00:00Z</updated></entry>
</feed>"""
JSON_FEED = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Network",
        "items": [
            {
                "id": "1",
                "url": "https://network.example.org/budget",
                "title": DATED,
                "content_text": "The council voted its budget.",
                "date_published": "25-03-2022",
            },
            {
                "id": "2",
                "url": "https://network.example.org/water",
                "title": ZERO,
                "content_text": "A plan for water.",
                "date_published": "1970-01-01T00:00:00Z",
            },
        ],
    }
)
# a listing page whose operator wrote a month-first format: 25 still cannot be a month
LISTING = f"""<!DOCTYPE html><html lang="en"><head><title>News</title></head><body>
<article><h2><a href="/budget">{DATED}</a></h2><p class="date">25-03-2022</p>
<p class="excerpt">The council voted its budget.</p></article>
<article><h2><a href="/water">{ZERO}</a></h2><p class="date">00-00-0000</p>
<p class="excerpt">A plan for water.</p></article>
</body></html>"""

SOURCES = {
    "rss": ("/city.rss", RSS, "application/rss+xml", "day_first: true\n"),
    "atom": ("/region.atom", ATOM, "application/atom+xml", ""),
    "json": ("/network.json", JSON_FEED, "application/feed+json", ""),
    "listing": (
        "/news.html",
        LISTING,
        "text/html; charset=utf-8",
        "type: html\n    scrape:\n      item: article\n      title: h2\n      link: h2 a\n"
        "      date: .date\n      excerpt: .excerpt\n      date_format: '%m-%d-%Y'\n",
    ),
}


@pytest.fixture(scope="module")
def stored_posts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Post]]:
    """One real cycle over the four sources; the posts the store holds, by source."""
    server = FixtureServer().start()
    try:
        entries = []
        for sid, (path, body, media_type, extra) in SOURCES.items():
            url = server.route(path, body, headers={"Content-Type": media_type})
            entries.append(
                f"  - id: {sid}\n    name: {sid}\n    organisation: Org {sid}\n"
                f"    url: {url}\n" + (f"    {extra}" if extra else "")
            )
        folder = tmp_path_factory.mktemp("dates")
        feeds = folder / "feeds.yaml"
        feeds.write_text(
            "site:\n  title: Net\n  base_url: https://news.example.org/\n"
            f"fetch:\n  allow_private: ['{server.hostport}']\n"
            "sources:\n" + "".join(entries),
            encoding="utf-8",
        )
        settings = config.load(feeds)
        store = open_store(at_head(settings.storage_url))
        try:
            report = run_cycle(settings, store, clock=lambda: NOW, workers=1)
            assert all(o.error is None for o in report.outcomes), report.outcomes
            posts = store.recent_posts(100)
        finally:
            store.close()
    finally:
        server.stop()
    by_source: dict[str, list[Post]] = {sid: [] for sid in SOURCES}
    for post in posts:
        by_source[post.source_id].append(post)
    return by_source


def _post(posts: list[Post], title: str) -> Post:
    [post] = [p for p in posts if p.title == title]
    return post


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_25_03_2022_is_25_march_wherever_it_comes_from(
    stored_posts: dict[str, list[Post]], source: str
) -> None:
    post = _post(stored_posts[source], DATED)
    assert post.published == utc(2022, 3, 25)


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_a_zero_date_is_missing_wherever_it_comes_from(
    stored_posts: dict[str, list[Post]], source: str
) -> None:
    post = _post(stored_posts[source], ZERO)
    assert post.published == post.first_seen == NOW


def test_a_two_digit_year_is_not_a_future_date(stored_posts: dict[str, list[Post]]) -> None:
    """``03/11/99`` once read as 2099, was judged a future date and shown as today."""
    post = _post(stored_posts["rss"], "Old archive")
    assert post.published == utc(1999, 11, 3)


def test_no_other_ingest_module_reads_date_text() -> None:
    """No other module of the package reads date text (strptime, parsedate, fromisoformat)."""
    package = Path(__file__).resolve().parent.parent / "aggregator" / "ingest"
    readers = re.compile(r"\.strptime\(|parsedate|\.fromisoformat\(|_parse_date\b")
    offenders = [
        path.name
        for path in package.rglob("*.py")
        if path.name != "dates.py" and readers.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [
        "outcome.py"
    ]  # fetch/outcome.py: HTTP Retry-After dates, not publication dates
