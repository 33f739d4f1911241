"""ingest/parse/: fixture documents against their expected ParsedFeed, and hostile input.

Each ``tests/data/parse/<name>.<ext>`` sits beside ``<name>.expected.json`` holding the call
(``request``) and the expected feed (``feed``).  The comparison is field by field so that a
failure names the entry and the field a reader of the digest would see go wrong.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import pickle
import tracemalloc
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.errors import ParseError
from aggregator.ingest.parse import (
    defuse,
    fast,
    fields,
    find_feed_links,
    keep_newest,
    parse_document,
)
from aggregator.ingest.scrape import scrape_listing
from aggregator.models import Link, ParsedEntry, ParsedFeed, ScrapeRules
from tests.httpserver import FixtureServer

DATA = Path(__file__).resolve().parent / "data" / "parse"
EXPECTED = sorted(DATA.glob("*.expected.json"))
URL = "https://x.example.org/feed"
RSS_HEADERS = {"Content-Type": "application/rss+xml; charset=utf-8"}


def as_data(feed: ParsedFeed) -> dict[str, Any]:
    """The JSON form of a ParsedFeed used by the expected files (datetimes as ISO 8601)."""

    def convert(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [convert(v) for v in value]
        return value

    return convert(asdict(feed))  # type: ignore[no-any-return]


def run_request(document: Path, request: dict[str, Any]) -> ParsedFeed:
    body = document.read_bytes()
    if "rules" in request:
        return scrape_listing(
            body,
            url=request["url"],
            rules=ScrapeRules(**request["rules"]),
            max_entries=request.get("max_entries", 200),
        )
    return parse_document(
        body,
        url=request["url"],
        headers=request.get("headers", {}),
        max_entries=request.get("max_entries", 200),
        day_first=request.get("day_first", False),
    )


def compare(actual: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """Readable differences, one per field ("entries[2].published: …")."""
    problems: list[str] = []
    for key in sorted(set(actual) | set(expected)):
        if key == "entries":
            continue
        if actual.get(key) != expected.get(key):
            problems.append(f"{key}: got {actual.get(key)!r}, expected {expected.get(key)!r}")
    got, want = actual.get("entries", []), expected.get("entries", [])
    if len(got) != len(want):
        problems.append(f"entries: got {len(got)}, expected {len(want)}")
    for i, (a, e) in enumerate(zip(got, want, strict=False)):
        for key in sorted(set(a) | set(e)):
            if a.get(key) != e.get(key):
                problems.append(f"entries[{i}].{key}: got {a.get(key)!r}, expected {e.get(key)!r}")
    return problems


def fixture_document(expected: Path) -> Path:
    stem = expected.name.removesuffix(".expected.json")
    matches = [p for p in DATA.glob(f"{stem}.*") if not p.name.endswith(".expected.json")]
    assert len(matches) == 1, f"one document expected beside {expected.name}, found {matches}"
    return matches[0]


def test_every_required_format_has_a_fixture() -> None:
    formats = {json.loads(p.read_text("utf-8"))["feed"]["format"] for p in EXPECTED}
    assert {"rss091n", "rss10", "rss20", "atom03", "atom10", "json11", "html"} <= formats


@pytest.mark.parametrize("expected_path", EXPECTED, ids=lambda p: p.name.split(".")[0])
def test_fixture_matches_expected(expected_path: Path) -> None:
    spec = json.loads(expected_path.read_text("utf-8"))
    feed = run_request(fixture_document(expected_path), spec["request"])
    problems = compare(as_data(feed), spec["feed"])
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------------------
# Behaviour a reader would notice


def _rss(items: str, prolog: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{prolog}<rss version="2.0"><channel>'
        f"<title>T</title><link>https://x.example.org/</link>{items}</channel></rss>"
    ).encode()


def _root(document: bytes) -> bytes:
    """The document from its root element on, to put another prolog in front."""
    return document[document.index(b"<rss") :]


def _item(title: str, date: str = "", link: str = "https://x.example.org/a") -> str:
    pub = f"<pubDate>{date}</pubDate>" if date else ""
    return f"<item><title>{title}</title><link>{link}</link>{pub}</item>"


def test_relative_links_resolve_against_the_final_url() -> None:
    feed = parse_document(
        _rss(_item("a", link="../posts/1")), url="https://x.example.org/blog/feed/", headers={}
    )
    assert feed.entries[0].link == "https://x.example.org/blog/posts/1"


def test_cut_keeps_the_newest_entries_and_says_so() -> None:
    items = "".join(
        _item(f"day {d}", f"{d:02d} Jan 2024 10:00:00 GMT", f"https://x.example.org/{d}")
        for d in (3, 9, 1, 7, 5)
    )
    feed = parse_document(_rss(items), url=URL, headers=RSS_HEADERS, max_entries=2)
    assert [e.title for e in feed.entries] == ["day 9", "day 7"]
    assert any("kept the newest 2" in w for w in feed.warnings)


def test_cut_without_dates_keeps_document_order() -> None:
    items = "".join(_item(f"n{i}", link=f"https://x.example.org/{i}") for i in range(5))
    feed = parse_document(_rss(items), url=URL, headers=RSS_HEADERS, max_entries=3)
    assert [e.title for e in feed.entries] == ["n0", "n1", "n2"]


def test_keep_newest_ranks_undated_entries_last() -> None:
    dated = ParsedEntry(title="old", published=datetime(2020, 1, 1, tzinfo=UTC))
    entries = [ParsedEntry(title="undated"), dated, ParsedEntry(title="x")]
    assert keep_newest(entries, 1) == (dated,)


@pytest.mark.parametrize(
    ("raw", "day_first", "expected"),
    [
        ("0001-01-01T00:00:00+01:00", False, None),  # year 0 after conversion to UTC
        ("9999-12-31T23:59:59-01:00", False, None),  # year 10000
        ("2024-02-30T25:61:00Z", False, None),  # would silently roll into March
        ("Fri, 31 Feb 2023 10:00:00 GMT", False, None),
        ("25/03/2022", False, datetime(2022, 3, 25, tzinfo=UTC)),  # day > 12: obvious
        ("03/04/2022", True, datetime(2022, 4, 3, tzinfo=UTC)),
        ("03/04/2022", False, datetime(2022, 3, 4, tzinfo=UTC)),
        ("2016/6/29", False, datetime(2016, 6, 29, tzinfo=UTC)),
        ("Tue, 10 Jun 2003 04:00:00 +0200", False, datetime(2003, 6, 10, 2, tzinfo=UTC)),
    ],
)
def test_dates_never_raise_and_keep_the_raw_text(
    raw: str, day_first: bool, expected: datetime | None
) -> None:
    feed = parse_document(_rss(_item("a", raw)), url=URL, headers=RSS_HEADERS, day_first=day_first)
    entry = feed.entries[0]
    assert entry.published == expected
    assert entry.published_raw == raw
    assert entry.published is None or entry.published.tzinfo is not None


def test_json_feed_1_0_without_a_json_content_type() -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1",
            "title": "Old style",
            "author": {"name": "Ana Ruiz", "url": "https://a.example.org/ana"},
            "items": [
                {"id": "1", "url": "/one", "content_text": "a < b", "tags": ["x", 3, None]},
                "not an item",
                {"id": {"odd": 1}, "title": "Day 30", "date_published": "2024-02-30T10:00:00Z"},
            ],
        }
    ).encode()
    feed = parse_document(
        body, url="https://a.example.org/feed", headers={"Content-Type": "text/plain"}
    )
    assert feed.format == "json10"
    assert feed.authors[0].name == "Ana Ruiz"
    first, second = feed.entries
    assert (first.link, first.content, first.tags) == (
        "https://a.example.org/one",
        "a &lt; b",
        ("x", "3"),
    )
    assert (second.guid, second.published, second.published_raw) == (
        None,
        None,
        "2024-02-30T10:00:00Z",
    )


def test_xml_sent_as_json_is_still_read() -> None:
    feed = parse_document(_rss(_item("a")), url=URL, headers={"Content-Type": "application/json"})
    assert feed.format == "rss20"


def test_html_page_names_the_feeds_it_advertises() -> None:
    page = (
        b"<!DOCTYPE html><html><head><base href='/site/'>"
        b"<link rel='alternate' type='application/atom+xml' href='atom.xml'>"
        b"<link rel='alternate stylesheet' type='text/css' href='x.css'>"
        b"<link rel='alternate' type='application/rss+xml' href='https://y.example.org/rss'>"
        b"</head><body><p>Hello</p></body></html>"
    )
    with pytest.raises(ParseError) as info:
        parse_document(
            page, url="https://x.example.org/blog", headers={"Content-Type": "text/html"}
        )
    assert info.value.kind == "not_a_feed"
    assert str(info.value) == (
        "not a feed: this is an HTML page; it advertises "
        "https://x.example.org/site/atom.xml, https://y.example.org/rss"
    )
    assert find_feed_links(page, "https://x.example.org/blog") == [
        Link("https://x.example.org/site/atom.xml", type="application/atom+xml"),
        Link("https://y.example.org/rss", type="application/rss+xml"),
    ]


def test_html_page_without_feed_links() -> None:
    with pytest.raises(ParseError, match="advertises no feed") as info:
        parse_document(b"<html><body>hi</body></html>", url=URL, headers={})
    assert info.value.kind == "not_a_feed"
    assert find_feed_links(b"", URL) == []


@pytest.mark.parametrize(
    ("body", "headers", "kind"),
    [
        (b"", {}, "empty"),
        (b" \r\n\t", RSS_HEADERS, "empty"),
        (b"just some words", {"Content-Type": "text/plain"}, "not_a_feed"),
        (b'{"hello": "world"}', {"Content-Type": "application/json"}, "not_a_feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": 3}', {}, "invalid"),
        (b"{not json", {"Content-Type": "application/feed+json"}, "invalid"),
        (b"[" * 100_000, {"Content-Type": "application/json"}, "invalid"),
        (b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</ti', {}, "invalid"),
    ],
)
def test_unusable_documents_raise_parse_error(
    body: bytes, headers: dict[str, str], kind: str
) -> None:
    with pytest.raises(ParseError) as info:
        parse_document(body, url=URL, headers=headers)
    assert info.value.kind == kind
    assert str(info.value)


def test_broken_xml_with_entries_is_kept_with_a_warning() -> None:
    body = _rss(_item("Caf&eacute; &amp; more <b>unclosed"))
    feed = parse_document(body, url=URL, headers=RSS_HEADERS)
    assert len(feed.entries) == 1
    assert "Café" in (feed.entries[0].title or "")
    assert any("not well-formed" in w for w in feed.warnings)


@pytest.mark.parametrize("headers", [RSS_HEADERS, {}, {"Content-Type": "text/xml"}])
def test_valid_feed_without_entries_is_not_an_error(headers: dict[str, str]) -> None:
    feed = parse_document(_rss(""), url=URL, headers=headers)
    assert feed.title == "T"
    assert feed.entries == ()
    assert feed.warnings == ()


def test_control_characters_never_reach_the_output() -> None:
    body = _rss(_item("Bell\x07 Esc\x1b Nul&#0; ref&#27; ok\ttab"))
    title = parse_document(body, url=URL, headers=RSS_HEADERS).entries[0].title
    assert title == "Bell Esc Nul\ufffd ref ok\ttab"


def test_fetched_over_http_with_real_headers(http_server: FixtureServer) -> None:
    """What the fetcher hands over: the body bytes and the server's own headers."""
    body = (DATA / "rss20.xml").read_bytes()
    url = http_server.route(
        "/blog/feed/", body, headers={"Content-Type": "text/xml; charset=utf-8"}
    )
    with urllib.request.urlopen(url, timeout=5) as response:
        fetched, headers = response.read(), dict(response.headers.items())
    feed = parse_document(fetched, url=url, headers=headers)
    assert feed.entries[0].link == http_server.url("/posts/harbourtown-congress/")
    assert feed.warnings == ()


def test_nothing_is_ever_fetched(http_server: FixtureServer) -> None:
    """DTDs, external entities and advertised links stay unfetched: the server sees nothing."""
    dtd = http_server.route("/evil.dtd", '<!ENTITY x "leaked">')
    ent = http_server.route("/entity", "leaked")
    prolog = (
        f'<!DOCTYPE rss SYSTEM "{dtd}" [<!ENTITY y SYSTEM "{ent}"> '
        f'<!ENTITY % p SYSTEM "{dtd}"> %p;]>\n'
    )
    feed = parse_document(_rss(_item("&x; &y;"), prolog), url=URL, headers={})
    assert "leaked" not in json.dumps(as_data(feed))
    page = (
        f'<!DOCTYPE html SYSTEM "{dtd}"><html><head><link rel="stylesheet" href="{ent}">'
        f'<link rel="alternate" type="application/rss+xml" href="{ent}"></head></html>'
    ).encode()
    with pytest.raises(ParseError, match="advertises"):
        parse_document(page, url=URL, headers={"Content-Type": "text/html"})
    with pytest.raises(ParseError):
        scrape_listing(page, url=URL, rules=ScrapeRules(item="article"))
    assert http_server.requests == []


def test_runs_in_a_process_pool() -> None:
    body = (DATA / "atom10.xml").read_bytes()
    here = parse_document(body, url=URL, headers={})
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        there = pool.submit(parse_document, body, url=URL, headers={}).result(timeout=60)
    assert there == here
    assert pickle.loads(pickle.dumps(here)) == here


# ------------------------------------------------------------------------------------------
# Hostile input: each case ends in ParseError or a clean result, within loose memory bounds

LOL = "".join(
    f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "lol") * 10}">\n' for i in range(1, 10)
)
HOSTILE: dict[str, bytes] = {
    "billion_laughs": _rss(_item("&lol9;"), f"<!DOCTYPE rss [\n{LOL}]>\n"),
    "quadratic_blowup": _rss(
        _item("&a;" * 20_000), f'<!DOCTYPE rss [\n<!ENTITY a "{"a" * 50_000}">\n]>\n'
    ),
    "external_entity": _rss(
        _item("&xxe;"), '<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
    ),
    "external_dtd": _rss(_item("x"), '<!DOCTYPE rss SYSTEM "file:///etc/passwd">\n'),
    "single_line_doctype": _rss(
        _item("&a;" * 20_000), f'<!DOCTYPE rss [<!ENTITY a "{"a" * 50_000}">]>'
    ),
    "doctype_after_text": b'<?xml version="1.0"?>\ntext\n<!DOCTYPE r [\n<!ENTITY a "aaaa">\n]>\n'
    + _root(_rss(_item("&a;"))),
    "many_doctypes": b'<?xml version="1.0"?>' + b"<!DOCTYPE a>" * 20_000 + _root(_rss(_item("x"))),
    "doctype_after_long_text": b'<?xml version="1.0"?>\n'
    + b"x" * 300_000
    + b'<!DOCTYPE r [\n<!ENTITY a "aaaa">\n]>\n'
    + _root(_rss(_item("&a;"))),
    "unterminated_doctype": b'<?xml version="1.0"?>\n<!DOCTYPE rss [ <!ENTITY a "' + b"a" * 300_000,
    "parameter_entities": _rss(
        _item("x"), '<!DOCTYPE rss [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'
    ),
    "utf16_entities": _rss(
        _item("&a;" * 1000), f'<!DOCTYPE rss [\n<!ENTITY a "{"a" * 10_000}">\n]>\n'
    )
    .decode()
    .encode("utf-16"),
    "utf7_declarations": b'<?xml version="1.0" encoding="utf-7"?>\n'
    + b"+ADw-!DOCTYPE rss +AFs-+ADw-!ENTITY a +ACI-"
    + b"a" * 50_000
    + b"+ACIAPgBdAD4-\n"
    + _root(_rss(_item("&a;" * 20_000))),
    "iso2022_split_declarations": b'<?xml version="1.0" encoding="iso-2022-jp"?>\n'
    + b'<!DOC\x1b(BTYPE rss [\n<!EN\x1b(BTITY a "'
    + b"a" * 50_000
    + b'">\n]>\n'
    + _root(_rss(_item("&a;" * 20_000))),
    "utf16_without_bom": (
        " \n" + _rss(_item("&a;" * 2000), f'<!DOCTYPE rss [<!ENTITY a "{"a" * 50_000}">]>').decode()
    ).encode("utf-16-le"),
    "nesting_5000": _rss(_item("<b>" * 5000 + "deep" + "</b>" * 5000)),
    "nesting_in_content": _rss(
        "<item><title>t</title><description><![CDATA["
        + "<div>" * 5000
        + "</div>" * 5000
        + "]]></description></item>"
    ),
    "beyond_unicode": _rss(_item("a &#x110000; b &#99999999999; c")),
    "lone_surrogates": _rss(_item("a &#xD800; b &#56320; c")),
    "backslash_entity": _rss(_item("&a;"), '<!DOCTYPE rss [\n<!ENTITY a "x\\y">\n]>\n'),
    "megabyte_title": _rss(_item("x" * 1_000_000)),
    "json_deep": b'{"version": "https://jsonfeed.org/version/1.1", "items": ' + b"[" * 50_000,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_is_refused_or_parsed_cleanly(name: str) -> None:
    tracemalloc.start()
    kind: str | None = None
    try:
        try:
            feed: ParsedFeed | None = parse_document(HOSTILE[name], url=URL, headers={})
        except ParseError as exc:
            kind, feed = exc.kind, None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert kind in {None, "hostile", "invalid", "not_a_feed"}, kind
    assert peak < 64 * 1024 * 1024, f"{name}: peak {peak / 1e6:.0f} MB"
    if feed is not None:
        text = json.dumps(as_data(feed), ensure_ascii=False)
        assert "root:" not in text  # /etc/passwd never leaks in
        assert len(text) < 2 * len(HOSTILE[name]) + 10_000  # no entity blow-up
        for entry in feed.entries:
            for value in (entry.title, entry.summary, entry.content):
                assert value is None or not any(0xD800 <= ord(c) <= 0xDFFF for c in value)


def test_entity_doctype_is_reported() -> None:
    feed = parse_document(HOSTILE["billion_laughs"], url=URL, headers=RSS_HEADERS)
    assert feed.entries[0].title == "&lol9;"
    assert any("entities are never expanded" in w for w in feed.warnings)


@pytest.mark.parametrize(
    ("name", "headers"),
    [
        ("quadratic_blowup", RSS_HEADERS),
        ("single_line_doctype", {}),
        ("utf7_declarations", {}),
        ("iso2022_split_declarations", {"Content-Type": "text/xml"}),
        ("utf16_without_bom", {"Content-Type": "application/xml; charset=utf-16le"}),
        ("utf16_entities", {}),
    ],
)
def test_entities_stay_unexpanded(name: str, headers: dict[str, str]) -> None:
    """Whatever the encoding hides the declarations in, the entity is never expanded."""
    feed = parse_document(HOSTILE[name], url=URL, headers=headers)
    assert (feed.entries[0].title or "").startswith("&a;&a;")
    assert "aaaa" not in (feed.entries[0].title or "")
    assert any("entities are never expanded" in w for w in feed.warnings)


def test_wrong_declared_encoding_is_read_and_reported() -> None:
    body = _rss(_item("Caf\u00e9")).decode().encode("latin-1")
    feed = parse_document(body, url=URL, headers={"Content-Type": "text/xml; charset=utf-8"})
    assert feed.entries[0].title == "Caf\u00e9"
    assert any("does not fit the document" in w for w in feed.warnings)


def test_impossible_character_references_become_replacement_characters() -> None:
    for name in ("beyond_unicode", "lone_surrogates"):
        feed = parse_document(HOSTILE[name], url=URL, headers=RSS_HEADERS)
        assert feed.entries[0].title == "a \ufffd b \ufffd c", name


def test_xhtml_page_is_not_a_feed() -> None:
    page = (
        b'<?xml version="1.0"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
        b'"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
        b'<html xmlns="http://www.w3.org/1999/xhtml"><head>'
        b'<link rel="alternate" type="application/feed+json" href="feed.json"/></head></html>'
    )
    with pytest.raises(ParseError, match=r"advertises https://x\.example\.org/feed\.json$"):
        parse_document(page, url=URL, headers={"Content-Type": "application/xhtml+xml"})


def test_feed_served_as_html_is_still_read() -> None:
    feed = parse_document(
        (DATA / "rss20.xml").read_bytes(), url=URL, headers={"Content-Type": "text/html"}
    )
    assert len(feed.entries) == 4
    assert feed.warnings == ()


def test_deeply_nested_html_is_flattened_to_text() -> None:
    deep = "<div>" * 3000 + "<b>deep &amp; dark</b>" + "</div>" * 3000
    ok = "<ul>" + "<li>item <em>x</em>" * 3000 + "</ul>"  # unclosed <li> are not nesting
    body = _rss(f"<item><title>t</title><description><![CDATA[{deep}]]></description></item>")
    feed = parse_document(body, url=URL, headers=RSS_HEADERS)
    assert feed.entries[0].summary == "deep &amp; dark"
    assert any("nested deeper" in w for w in feed.warnings)
    body = _rss(f"<item><title>t</title><description><![CDATA[{ok}]]></description></item>")
    assert parse_document(body, url=URL, headers=RSS_HEADERS).entries[0].summary == ok


def test_netscape_doctype_is_dropped_but_recognised() -> None:
    feed = parse_document((DATA / "rss091.xml").read_bytes(), url=URL, headers={})
    assert feed.format == "rss091n"
    assert not any("internal subset" in w for w in feed.warnings)


def test_huge_document_is_refused_before_parsing() -> None:
    with pytest.raises(ParseError) as info:
        parse_document(b"<rss>" + b" " * (17 * 1024 * 1024), url=URL, headers={})
    assert info.value.kind == "hostile"


def test_feedparser_never_sees_a_path_or_url() -> None:
    """A body that looks like a file name is parsed as text, not opened."""
    with pytest.raises(ParseError) as info:
        parse_document(b"/etc/hostname", url=URL, headers={})
    assert info.value.kind == "not_a_feed"


# ------------------------------------------------------------------------------------------
# Whatever the bytes, the only exception is ParseError

PIECES = [
    b'<?xml version="1.0" encoding="utf-8"?>',
    b"<!DOCTYPE rss [",
    b'<!ENTITY a "aaaa">',
    b"]>",
    b'<rss version="2.0">',
    b"<channel>",
    b"<item>",
    b"<title>",
    b"</title>",
    b"&a;",
    b"&#x110000;",
    b"&#xD800;",
    b"&#0;",
    b"<![CDATA[",
    b"]]>",
    b"<pubDate>",
    b"0000-00-00T99:99:99Z",
    b"31/02/2020",
    b"</pubDate>",
    b"</item>",
    b'<feed xmlns="http://www.w3.org/2005/Atom">',
    b"<entry><updated>9999-12-31T23:59:59-01:00</updated>",
    b'<link href="javascript:x"/>',
    b"\x00\x1b\xff\xfe",
    b'{"version": "https://jsonfeed.org/version/1", "items": [',
    b'{"date_published": "x", "id": {}}',
    b"<html><link rel=alternate type=application/rss+xml href=//x>",
    b'<?xml version="1.0" encoding="utf-7"?>',
    b'<?xml version="1.0" encoding="iso-2022-jp"?>',
    b"+ADw-!ENTITY b +ACI-bb+ACI-+AD4-",
    b"\x1b(B",
    b"\x00<\x00r\x00",
    b"\xfe\xff",
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(PIECES) | st.binary(max_size=20), max_size=25))
def test_any_bytes_give_a_feed_or_a_parse_error(parts: list[bytes]) -> None:
    try:
        feed = parse_document(b"".join(parts), url=URL, headers={})
    except ParseError as exc:
        kind = exc.kind
    else:
        kind = "ok"
    assert kind in {"ok", "empty", "not_a_feed", "hostile", "invalid"}
    if kind != "ok":
        return
    for entry in feed.entries:
        for value in (entry.title, entry.summary, entry.content, entry.link):
            assert value is None or not any(ord(c) < 9 or 0xD800 <= ord(c) <= 0xDFFF for c in value)
        for date in (entry.published, entry.updated):
            assert date is None or date.utcoffset() is not None


# --------------------------------------------------------------------------------------------
# The byte-level shortcuts in strip_unsafe_chars, defuse_references and the fast path's text
# repair give what the regexes give (docs/performance.md, "Byte-level text checks")

_TRICKY_CHARS = st.sampled_from(
    [
        *"aZ9 <>&#;/\t\n\r",
        *["\x00", "\x01", "\x08", "\x0b", "\x1f", "\x7f", "\x80", "\x81", "\x85", "\x93", "\x9f"],
        *["\xa0", "é", "Ã©", "Ã", "\xc2", "’", "€", "日", "\U0001f3d9", "\ud83d", "\udfff"],
        *["\ufffe", "\uffff", "\ufffd", "&#0;", "&#x1F;", "&#xD800;", "&#1114112;", "&#233;"],
    ]
)
# both sides of the 128-character switch between the short and the long checks
_TRICKY_TEXT = st.lists(_TRICKY_CHARS, max_size=60).map("".join) | st.builds(
    lambda head, pad: head + "x" * pad,
    st.lists(_TRICKY_CHARS, max_size=30).map("".join),
    st.integers(100, 300),
)


@settings(max_examples=400, deadline=None)
@given(_TRICKY_TEXT, st.booleans())
def test_byte_level_shortcuts_match_the_regexes(text: str, reverse: bool) -> None:
    text = text[::-1] if reverse else text
    nel_as_break = text.replace("\x85", "\n")  # NEL is a line break (issue 13, point 11)
    assert fields.strip_unsafe_chars(text) == fields._UNSAFE_CHARS.sub("", nel_as_break)
    d = defuse
    expected = d._CHAR_REF.sub(d._fix_char_ref, d._CONTROL_CHARS.sub("", nel_as_break))
    assert d.defuse_references(text) == expected
    assert fast._fp_finish(text) == _reference_fp_finish(text)


def _reference_fp_finish(out: str) -> str:
    """The fast path's text rule as first written with a regex (feedparser's own steps)."""
    if out.isascii():
        return out
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        out = out.encode("iso-8859-1").decode("utf-8")
    return out.translate(fast.CP1252_REPAIR) if fast._C1_CHARS.search(out) else out
