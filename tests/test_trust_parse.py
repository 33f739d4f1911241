"""What the parse stage keeps of real-world documents (issue 13, points 7, 9, 12 and 13).

Every document is served by the real HTTP server on 127.0.0.1 and read through the real
pipeline: a cycle into a SQLite store (and ``publish_all``), ``feeds check`` and ``feeds add``
through click, discovery as the member form calls it, and the member form itself.

* 7: an entry with no title, no link and no text, and the incomplete last entry of a document
  cut short, are dropped with a warning ``feeds check`` shows; the complete entries stay.
* 9: one invalid byte in a UTF-8 document costs one U+FFFD; a windows-1252 document still reads
  right.
* 12: one oversized entry is dropped alone, and the document limit is ``fetch.max_body_bytes``.
* 13: documents the cycle reads (a BOM after blank lines, an unescaped ``&``, HTML entities in
  RSS, missing end tags) are accepted by ``feeds add`` and the member form, read the same way.

The fixtures are in ``tests/data/trust``; the oversized document is generated here.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import lxml.etree
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner, Result

from aggregator import config
from aggregator.cli.main import main
from aggregator.cycle import run_cycle
from aggregator.errors import ParseError
from aggregator.ingest.parse import parse_document
from aggregator.ingest.parse.entries import (
    MAX_ENTRY_CHARS,
    drop_oversized_entries,
    ends_inside_entry,
)
from aggregator.ingest.parse.repair import MAX_REPAIRS, repair_references
from aggregator.members.discover import Candidate, discover
from aggregator.models import FetchStatus, Post
from aggregator.publish.publisher import publish_all
from aggregator.store import open_store
from aggregator.store.protocol import Store
from aggregator.web.members import add_member_routes
from tests.conftest import DATA
from tests.httpserver import FixtureServer
from tests.stores import at_head
from tests.test_discover import fixture_text, quiet
from tests.test_members_web import DRAFT_RE, csrf_of, form, loopback_discoverer

TRUST = DATA / "trust"
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}
SOURCE_NAME = "Riverside Council"
COMPLETE_TITLES = [
    "Riverside opens a green library",
    "Mayors meet on housing and local finance",
    "Bus lanes on the river road from May",
]
ATOM = "{http://www.w3.org/2005/Atom}"
MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def quiet_server(http_server: FixtureServer) -> None:
    quiet(http_server)


def write_config(
    tmp_path: Path, server: FixtureServer, url: str, max_body: int = 8 * MIB, extra: str = ""
) -> Path:
    """A network with one source, Riverside, at ``url``; ``extra`` adds lines to the source."""
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "site: {title: Test network, base_url: 'https://news.example.org/', "
        "languages: [en, fr, es]}\n"
        f"fetch: {{allow_private: ['{server.hostport}'], max_body_bytes: {max_body}}}\n"
        "sources:\n"
        f"  - id: riverside\n    name: {SOURCE_NAME}\n    organisation: Riverside\n"
        f"    url: '{url}'\n{extra}",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def stores() -> Iterator[list[Store]]:
    opened: list[Store] = []
    yield opened
    for store in opened:
        store.close()


def cycle(path: Path, now: datetime, stores: list[Store]) -> tuple[Any, list[Post]]:
    """One cycle over the config at ``path``: its outcome for Riverside and the posts stored."""
    settings = config.load(path)
    store = open_store(at_head(settings.storage_url))
    stores.append(store)
    report = run_cycle(settings, store, clock=lambda: now, workers=1)
    posts = store.recent_posts(100, source_id="riverside")
    publish_all(store, settings, now)
    return report.outcomes[0], sorted(posts, key=lambda p: p.published)


def published_titles(path: Path) -> list[str]:
    atom = lxml.etree.parse(str(path.parent / "output" / "feed.atom"))
    return [str(t.text) for t in atom.getroot().iterfind(f"{ATOM}entry/{ATOM}title")]


def feeds(path: Path, *args: str) -> Result:
    command, *rest = args
    return CliRunner().invoke(main, ["feeds", command, "--config", str(path), *rest])


def serve(server: FixtureServer, name: str, headers: dict[str, str] | None = None) -> str:
    return server.route(
        f"/{name}", (TRUST / name).read_bytes(), headers=RSS if headers is None else headers
    )


# --------------------------------------------------------------------------------------------
# 7. Empty and truncated entries


@pytest.mark.parametrize(
    ("name", "titles", "dropped"),
    [
        ("empty-entries.rss", COMPLETE_TITLES, 3),
        ("empty-entries.atom", [COMPLETE_TITLES[0], COMPLETE_TITLES[2]], 2),
    ],
)
def test_entries_with_nothing_in_them_are_dropped_and_feeds_check_says_so(
    http_server: FixtureServer,
    tmp_path: Path,
    now: datetime,
    stores: list[Store],
    name: str,
    titles: list[str],
    dropped: int,
) -> None:
    path = write_config(tmp_path, http_server, serve(http_server, name))

    outcome, posts = cycle(path, now, stores)

    assert outcome.status is FetchStatus.OK and outcome.error is None
    assert [p.title for p in posts] == titles
    assert SOURCE_NAME not in published_titles(path)
    assert sorted(published_titles(path)) == sorted(titles)
    check = feeds(path, "check")
    assert check.exit_code == 0, check.output
    assert check.stdout.splitlines() == [
        f"riverside: ok, {len(titles)} entries",
        f"  warning: {dropped} entries with no title, no link and no text dropped",
    ]


def test_a_document_cut_short_keeps_its_complete_entries(
    http_server: FixtureServer, tmp_path: Path, now: datetime, stores: list[Store]
) -> None:
    path = write_config(tmp_path, http_server, serve(http_server, "truncated.rss"))

    outcome, posts = cycle(path, now, stores)

    assert outcome.status is FetchStatus.OK and outcome.error is None
    assert [p.title for p in posts] == COMPLETE_TITLES
    assert SOURCE_NAME not in published_titles(path)
    check = feeds(path, "check")
    assert check.stdout.splitlines()[0] == "riverside: ok, 3 entries"
    assert "  warning: the document is cut short: its last, incomplete entry was dropped" in (
        check.stdout.splitlines()
    )


def test_a_document_cut_before_any_complete_entry_is_a_failure_not_a_post(
    http_server: FixtureServer, tmp_path: Path, now: datetime, stores: list[Store]
) -> None:
    url = http_server.route("/cut.xml", (DATA / "members" / "broken.xml").read_bytes())
    path = write_config(tmp_path, http_server, url)

    outcome, posts = cycle(path, now, stores)

    assert posts == []
    assert outcome.status is FetchStatus.ERROR
    assert outcome.error.startswith("not a valid feed: feed is not well-formed XML")
    assert outcome.error.endswith("and holds no complete entry")


@pytest.mark.parametrize(
    ("tail", "cut"),
    [
        ("<item><title>Half a ti", True),
        ("<item>", True),
        ("<item><title>Whole</title></channel></rss>", False),  # only </item> is missing
        ("<item><description><![CDATA[ a </item> in text ]]></description>", True),
        ("<item><title>t</title></item><!-- <item> -->", False),
        ("</channel><item rdf:about='b'><title>b</title></item></rdf:RDF>", False),  # RSS 1.0
        ("</channel><item rdf:about='b'><title>b", True),
        ("<ite", False),  # no entry was started
    ],
)
def test_only_a_document_that_stops_inside_an_entry_is_cut_short(tail: str, cut: bool) -> None:
    head = "<rss><channel><title>T</title><item><title>a</title></item>"
    assert ends_inside_entry(head + tail) is cut


# --------------------------------------------------------------------------------------------
# 9. One bad byte


def test_one_bad_byte_costs_one_replacement_character(
    http_server: FixtureServer, tmp_path: Path, now: datetime, stores: list[Store]
) -> None:
    path = write_config(tmp_path, http_server, serve(http_server, "utf8-one-bad-byte.rss"))

    outcome, posts = cycle(path, now, stores)

    assert outcome.error is None
    assert [p.title for p in posts] == [
        "Муниципальные выборы в Екатеринбурге",
        "Élections municipales à Montréal : ce qui change",
        "Presupuesto participativo en Medellín",
    ]
    assert posts[0].excerpt == "Дума утвердила бюджет на будущий год."
    assert posts[2].excerpt == "Los vecinos votaron caf\ufffd por 120 proyectos en su barrio."
    assert sum(p.excerpt.count("\ufffd") + p.title.count("\ufffd") for p in posts) == 1
    check = feeds(path, "check")
    assert "  warning: 1 invalid UTF-8 byte sequence(s) read as U+FFFD" in check.stdout


@pytest.mark.parametrize(
    "content_type",
    ["application/rss+xml", "text/xml; charset=utf-8", "application/xml; charset=windows-1252"],
)
def test_a_windows_1252_document_still_reads_right(
    http_server: FixtureServer,
    tmp_path: Path,
    now: datetime,
    stores: list[Store],
    content_type: str,
) -> None:
    url = serve(http_server, "windows-1252.rss", {"Content-Type": content_type})
    path = write_config(tmp_path, http_server, url)

    outcome, posts = cycle(path, now, stores)

    assert outcome.error is None
    assert [p.title for p in posts] == [
        "Le maire présente le budget 2027 : « priorité aux écoles »",
        "Fête de quartier à Saint-Étienne — programme",
    ]
    assert posts[0].excerpt == "Coût prévu : 12 000 €, voté à l’unanimité."
    assert all("\ufffd" not in p.title + p.excerpt for p in posts)


# --------------------------------------------------------------------------------------------
# 12. An oversized entry


def oversized_document(entry_bytes: int) -> bytes:
    """Three entries; the second holds ``entry_bytes`` of escaped HTML (an inlined export)."""
    paragraph = "&lt;p&gt;A very long report, pasted whole into the post.&lt;/p&gt;\n"
    big = paragraph * (entry_bytes // len(paragraph) + 1)
    items = [
        ("1", "Riverside opens a green library", "&lt;p&gt;Built from reclaimed timber.&lt;/p&gt;"),
        ("2", "The full 2027 budget report", big),
        ("3", "Bus lanes on the river road from May", "&lt;p&gt;Two new lanes.&lt;/p&gt;"),
    ]
    body = "".join(
        f"<item><title>{title}</title><link>https://riverside.example/news/{n}</link>"
        f"<pubDate>Mon, 1{n} Nov 2026 08:00:00 +0000</pubDate>"
        f"<description>{text}</description></item>\n"
        for n, title, text in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>Riverside</title><link>https://riverside.example/</link>\n{body}</channel></rss>"
    ).encode()


def test_an_oversized_entry_costs_only_itself(
    http_server: FixtureServer, tmp_path: Path, now: datetime, stores: list[Store]
) -> None:
    document = oversized_document(20 * MIB)
    assert len(document) > 20 * MIB  # over the parser's old limit of its own, 16 MiB
    url = http_server.route("/big.xml", document, headers=RSS)
    path = write_config(tmp_path, http_server, url, max_body=32 * MIB)

    outcome, posts = cycle(path, now, stores)

    assert outcome.status is FetchStatus.OK and outcome.error is None
    assert [p.title for p in posts] == [
        "Riverside opens a green library",
        "Bus lanes on the river road from May",
    ]
    check = feeds(path, "check")
    assert check.stdout.splitlines()[0] == "riverside: ok, 2 entries"
    assert re.search(r"warning: an entry of [\d,]+ characters was dropped", check.stdout)


def test_the_document_limit_is_the_fetch_setting(
    http_server: FixtureServer, tmp_path: Path, now: datetime, stores: list[Store]
) -> None:
    document = oversized_document(3 * MIB)  # under the per-entry limit: read, its text cut
    url = http_server.route("/big.xml", document, headers=RSS)
    path = write_config(tmp_path, http_server, url, max_body=4 * MIB)

    outcome, posts = cycle(path, now, stores)

    assert outcome.error is None and len(posts) == 3
    with pytest.raises(ParseError, match="document too large"):
        parse_document(document, url=url, headers={}, max_bytes=2 * MIB)
    assert len(parse_document(document, url=url, headers={}, max_bytes=4 * MIB).entries) == 3


def test_entry_tags_inside_cdata_do_not_split_an_oversized_entry() -> None:
    inner = "<![CDATA[ </item><item> ]]>" + "x" * MAX_ENTRY_CHARS
    text = f"<rss><channel><item><title>a</title></item><item>{inner}</item><item/></channel></rss>"
    warnings: list[str] = []
    kept = drop_oversized_entries(text, warnings)
    assert kept == "<rss><channel><item><title>a</title></item><item/></channel></rss>"
    assert len(warnings) == 1


# --------------------------------------------------------------------------------------------
# 13. One reading for feeds add, the member form and the cycle

MALFORMED = {
    "bom-after-blank-lines.rss": COMPLETE_TITLES,
    "unescaped-ampersand.rss": [
        "Roads & bridges: the 2027 budget",
        "Q&A with the mayor on AT&T's fibre plan",
        "Bus lanes on the river road from May",
    ],
    "html-entities.rss": [
        "Café des maires : compte rendu",
        "L’été des quartiers",
        "Budget 2027 : les écoles d’abord",
    ],
    "missing-end-tags.rss": COMPLETE_TITLES,
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_feeds_add_accepts_a_document_the_cycle_reads(
    http_server: FixtureServer, tmp_path: Path, name: str
) -> None:
    url = serve(http_server, name)
    path = tmp_path / "feeds.yaml"
    cemr = http_server.route("/cemr.xml", (TRUST / "bom-after-blank-lines.rss").read_bytes())
    text = fixture_text("feeds.yaml", allow=http_server.hostport, existing=cemr)
    path.write_text(text, encoding="utf-8")

    result = feeds(path, "add", url, "--yes")

    assert result.exit_code == 0, result.output
    assert "| 3 entries" in result.stdout
    assert [s.url for s in config.load(path).sources].count(url) == 1


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_discovery_reads_a_document_as_the_cycle_does(
    http_server: FixtureServer, tmp_path: Path, now: datetime, stores: list[Store], name: str
) -> None:
    path = write_config(tmp_path, http_server, serve(http_server, name))
    elsewhere = http_server.route(f"/new/{name}", (TRUST / name).read_bytes(), headers=RSS)

    found = discover(elsewhere, config.load(path), member=False, now=now)
    outcome, posts = cycle(path, now, stores)

    assert isinstance(found, Candidate), found
    assert outcome.error is None
    assert [p.title for p in posts] == MALFORMED[name]
    assert found.entry_count == 3
    assert [e.title for e in found.latest] == [p.title for p in reversed(posts)]
    check = feeds(path, "check").stdout
    assert check.startswith("riverside: ok, 3 entries\n")
    assert all(f"  warning: {warning}\n" in check for warning in found.warnings)


def test_an_ampersand_in_a_link_stays_part_of_the_link(
    http_server: FixtureServer, tmp_path: Path, now: datetime, stores: list[Store]
) -> None:
    path = write_config(tmp_path, http_server, serve(http_server, "unescaped-ampersand.rss"))
    _, posts = cycle(path, now, stores)
    assert posts[0].link == "https://riverside.example/news?id=1&lang=en"


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_the_member_form_previews_a_document_the_cycle_reads(
    http_server: FixtureServer, tmp_path: Path, now: datetime, name: str
) -> None:
    url = serve(http_server, name)
    path = tmp_path / "feeds.yaml"
    cemr = http_server.route("/cemr.xml", (TRUST / "bom-after-blank-lines.rss").read_bytes())
    text = fixture_text("feeds.yaml", allow=http_server.hostport, existing=cemr)
    path.write_text(text, encoding="utf-8")
    pages: list[str] = []

    async def body(client: TestClient[Any, Any]) -> None:
        token = await csrf_of(client)
        resp = await client.post("/submit", data=form(csrf=token, url=url))
        pages.append(await resp.text())
        assert resp.status == 200, pages[0]

    app = web.Application()
    discoverer = loopback_discoverer(http_server.hostport)
    add_member_routes(app, config.load(path), clock=lambda: now, env={}, discoverer=discoverer)
    asyncio.run(_run(app, body))

    preview = pages[0]
    assert DRAFT_RE.search(preview) is not None
    assert 'id="feed-entries">3<' in preview
    assert MALFORMED[name][-1].replace("'", "&#39;") in preview


async def _run(app: web.Application, body: Any) -> None:
    async with TestClient(TestServer(app)) as client:
        await body(client)


def test_ampersands_and_entities_in_cdata_and_comments_are_left_as_written() -> None:
    text = "<t>a & b &nbsp; &amp; &#233;</t><![CDATA[x & y &nbsp;]]><!-- & --><t>&lang=</t>"
    warnings: list[str] = []
    assert repair_references(text, warnings) == (
        "<t>a &amp; b &#160; &amp; &#233;</t><![CDATA[x & y &nbsp;]]><!-- & --><t>&amp;lang=</t>"
    )
    assert warnings == [
        "feed is not well-formed XML: 2 unescaped '&' read as text, "
        "1 HTML entity read as characters"
    ]


def test_a_document_of_nothing_but_ampersands_is_not_repaired_past_the_cap() -> None:
    text = "<t>" + "&" * (MAX_REPAIRS + 1) + "</t>"
    warnings: list[str] = []
    assert repair_references(text, warnings) is text
    assert warnings == []


LISTING = """<!DOCTYPE html><html lang="en"><head><title>News</title></head><body>
<article><h2><a href="/budget">The council votes its budget</a></h2>
<p class="date">25/03/2026</p><p class="excerpt">What the council will spend.</p></article>
<article><h2><a href="/water">A plan for clean water</a></h2>
<p class="date">02/04/2026</p><p class="excerpt">Pipes, wells and meters.</p></article>
</body></html>"""


def test_feeds_check_reads_a_listing_page_as_the_cycle_does(
    http_server: FixtureServer, tmp_path: Path, now: datetime, stores: list[Store]
) -> None:
    url = http_server.route("/news.html", LISTING, headers={"Content-Type": "text/html"})
    scrape = (
        "    type: html\n    scrape: {item: article, title: h2, link: h2 a, date: .date, "
        "excerpt: .excerpt, date_format: '%d/%m/%Y'}\n"
    )
    path = write_config(tmp_path, http_server, url, extra=scrape)

    outcome, posts = cycle(path, now, stores)
    check = feeds(path, "check")

    assert outcome.error is None and len(posts) == 2
    assert check.stdout.splitlines() == ["riverside: ok, 2 entries"]
