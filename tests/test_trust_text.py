"""What members' titles, texts and images become in every output (issue 13, points 5, 8, 10, 11).

The documents in ``tests/data/trust_text/`` are served by a loopback server and go through the
real pipeline: ``run_cycle`` (fetch, parse, normalise, store in SQLite), ``publish_all`` (Atom,
RSS, JSON Feed, pages) and the digest's preview (HTML, text, the .eml), then ``feeds check``.
Each test asserts what a subscriber or an operator would see:

* a ``<`` that starts no markup is text, in every output (``Recettes <dépenses en 2027 ?``
  was published as ``Recettes``), ``Q&A`` stays ``Q&A``, and markup still goes, with nothing
  executable left anywhere;
* tracking pixels, hidden images and images on private addresses are neither in the content
  nor the lead image (the digest showed them full width and leaked every reader's open);
* a right-to-left override left open cannot reorder what follows it, pairs stay, and line
  separators separate words;
* ``feeds check`` says how many entries of a source had no date it could read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import lxml.etree
import lxml.html
import pytest
from click.testing import CliRunner

from aggregator import config
from aggregator.cli.main import main
from aggregator.cycle import run_cycle
from aggregator.models import Post
from aggregator.newsletter.digest import preview
from aggregator.publish.publisher import publish_all
from aggregator.store import open_store
from tests.httpserver import FixtureServer
from tests.stores import at_head
from tests.test_hostile import eml_problems, json_problems, page_problems, xml_problems

DATA = Path(__file__).resolve().parent / "data" / "trust_text"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ATOM = "{http://www.w3.org/2005/Atom}"
OTHER_PORT = 9  # a loopback port the operator did not allow
SOURCES = {  # id: (document, content type)
    "riverside": ("titles.rss", "application/rss+xml"),
    "lakeside": ("titles.atom", "application/atom+xml"),
    "hillside": ("titles.json", "application/feed+json"),
    "port": ("images.rss", "application/rss+xml"),
    "twins": ("controls.rss", "application/rss+xml"),
    "parser": ("parser_cases.rss", "application/rss+xml"),
    "undated": ("undated.rss", "application/rss+xml"),
}


@dataclass(frozen=True)
class Published:
    config: Path
    out: Path
    posts: dict[str, Post]  # by link
    digest_html: Path
    digest_text: Path
    digest_eml: Path
    port: int


def _feeds_yaml(folder: Path, server: FixtureServer) -> Path:
    lines = [
        "site: {title: Network news, base_url: 'https://news.example.org/', output_dir: out}",
        f"fetch: {{allow_private: ['{server.hostport}']}}",
        "digest: {editions: [{name: weekly, skip_empty: false}]}",
        "sources:",
    ]
    for sid, (name, media_type) in SOURCES.items():
        body = (DATA / name).read_bytes().replace(b"{{OTHER_PORT}}", str(OTHER_PORT).encode())
        url = server.route(f"/{name}", body, headers={"Content-Type": media_type})
        lines.append(
            f"  - {{id: {sid}, name: {sid.title()}, organisation: {sid.title()} org, url: '{url}'}}"
        )
    path = folder / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def server() -> Iterator[FixtureServer]:
    started = FixtureServer().start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, server: FixtureServer) -> Published:
    """One cycle over every document, every output published, the digest previewed."""
    path = _feeds_yaml(tmp_path_factory.mktemp("trust-text"), server)
    settings = config.load(path)
    store = open_store(at_head(settings.storage_url))
    try:
        report = run_cycle(settings, store, clock=lambda: NOW, workers=1)
        assert [o.error for o in report.outcomes] == [None] * len(SOURCES), report.outcomes
        publish_all(store, settings, NOW)
        files = preview(store, settings, "weekly", NOW)
        posts = {p.link: p for p in store.recent_posts(500)}
    finally:
        store.close()
    return Published(
        path, settings.output_dir, posts, files.html_path, files.text_path, files.eml_path,
        server.port,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Reading the outputs back: link -> title, as each reader would show it


def _flat(text: str) -> str:
    return " ".join(text.split())


def atom_titles(p: Published) -> dict[str, str]:
    root = lxml.etree.parse(str(p.out / "feed.atom")).getroot()
    found = {}
    for entry in root.iter(f"{ATOM}entry"):
        link = next(
            el.get("href")
            for el in entry.iter(f"{ATOM}link")
            if el.get("rel") in (None, "alternate")
        )
        found[link] = entry.findtext(f"{ATOM}title") or ""
    return found


def rss_titles(p: Published) -> dict[str, str]:
    root = lxml.etree.parse(str(p.out / "feed.rss")).getroot()
    return {item.findtext("link") or "": item.findtext("title") or "" for item in root.iter("item")}


def json_titles(p: Published) -> dict[str, str]:
    feed = json.loads((p.out / "feed.json").read_text(encoding="utf-8"))
    return {item["url"]: item["title"] for item in feed["items"]}


def page_titles(p: Published) -> dict[str, str]:
    found = {}
    for page in sorted(p.out.rglob("*.html")):
        if "digest" in page.parts:
            continue
        for a in lxml.html.fromstring(page.read_bytes()).cssselect("h3.post-title a"):
            found[a.get("href")] = a.text_content()
    return found


def digest_titles(p: Published) -> dict[str, str]:
    doc = lxml.html.fromstring(p.digest_html.read_bytes())
    return {a.get("href"): a.text_content() for a in doc.cssselect(".item-title a")}


def email_parts(p: Published) -> tuple[str, str]:
    message = message_from_bytes(p.digest_eml.read_bytes(), policy=policy.default)
    parts = {
        part.get_content_type(): part.get_content()
        for part in message.walk()
        if not part.is_multipart()
    }
    return parts["text/plain"], parts["text/html"]


def email_html_titles(p: Published) -> dict[str, str]:
    doc = lxml.html.fromstring(email_parts(p)[1])
    return {a.get("href"): a.text_content() for a in doc.cssselect(".item-title a")}


READERS = {
    "store": lambda p: {link: post.title for link, post in p.posts.items()},
    "atom": atom_titles,
    "rss": rss_titles,
    "json feed": json_titles,
    "pages": page_titles,
    "digest html": digest_titles,
    "email html": email_html_titles,
}


def output_files(p: Published) -> list[Path]:
    return sorted(f for f in p.out.rglob("*") if f.is_file() and f.suffix != ".gz")


# --------------------------------------------------------------------------------------------
# Point 8: titles lose no text after a "<"; Q&A stays Q&A; markup still goes

TITLES = {
    "https://riverside.example.org/budget-2027": "Recettes <dépenses en 2027 ?",
    "https://riverside.example.org/script-tags": "Why <script> tags are dangerous",
    "https://riverside.example.org/include": "#include </etc/shadow>",
    "https://riverside.example.org/broadband": "Q&A with AT&T on rural broadband",
    "https://riverside.example.org/ducts": "Water <pipes> & AT&T's ducts",
    "https://lakeside.example.org/1": "Dépenses < recettes pour 2026",
    "https://lakeside.example.org/2": "Why <iframe> embeds break our pages",
    "https://lakeside.example.org/4": "R&D grants at P&O ferries",
    "https://lakeside.example.org/5": "Strong budget <2027>",
    "https://hillside.example.org/h1": "Sizes <small> and <big> explained",
    "https://hillside.example.org/h2": "Q&A: the council's P&L for 2026",
    # markup in a title still goes, and so does what a script element holds
    "https://riverside.example.org/harbour": "Bold plans for the harbour",
    "https://riverside.example.org/library": "Library opening hours",
    "https://riverside.example.org/minutes": "Council minutes of November",
    "https://lakeside.example.org/3": "Italic notes from the assembly",
    "https://hillside.example.org/h3": "Emphasis on youth councils",
}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_titles_keep_their_text_and_lose_their_markup(published: Published, reader: str) -> None:
    shown = READERS[reader](published)
    assert {link: shown.get(link) for link in TITLES} == TITLES


def test_the_digest_text_shows_the_titles_as_written(published: Published) -> None:
    text, _ = email_parts(published)
    for body in (_flat(published.digest_text.read_text(encoding="utf-8")), _flat(text)):
        for title in TITLES.values():
            assert title in body


def test_nothing_executable_reaches_any_output(published: Published) -> None:
    checks = {".atom": xml_problems, ".rss": xml_problems, ".json": json_problems,
              ".html": page_problems, ".eml": eml_problems}  # fmt: skip
    problems: list[str] = []
    for path in output_files(published):
        data = path.read_bytes()
        if path.suffix in checks:
            problems += checks[path.suffix](data, path.name)
        text = data.decode("utf-8", "replace")
        problems += [f"{path.name}: {bad}" for bad in ("onerror", "alert(") if bad in text]
    assert problems == []


def test_a_raw_ampersand_in_a_broken_feed_keeps_q_and_a(published: Published) -> None:
    assert published.posts["https://nel.example.org/wifi"].title == "Q&A with AT&T on tram wifi"


# --------------------------------------------------------------------------------------------
# Point 10: no tracking pixel, hidden image or private address in the content or as lead image

PRIVATE_OR_TRACKING = (
    "track.example.net", "//10.1.2.3", "//169.254.169.254", "//localhost", "//[::1]",
    "//192.168.", "//metadata.google.internal", "//0x7f", f"//127.0.0.1:{OTHER_PORT}/",
    "//10.0.0.7", "//[fd00",
)  # fmt: skip


def _image_sources(html: str) -> list[str]:
    return re.findall(r'<img src="([^"]*)"', html)


def test_only_images_readers_see_on_the_public_web_are_kept(published: Published) -> None:
    harbour = published.posts["https://port.example.org/harbour-works"]
    assert _image_sources(harbour.content_html) == ["https://cdn.port.example.org/harbour.jpg"]
    assert harbour.image == "https://cdn.port.example.org/harbour.jpg"
    assert "Tracking" in harbour.content_html  # a hidden element's text is text, as before
    market = published.posts["https://port.example.org/market-hall"]
    assert market.image == "https://cdn.port.example.org/market.jpg"  # not the private thumbnail
    ferry = published.posts["https://port.example.org/ferry-winter"]
    assert ferry.image is None and "<img" not in ferry.content_html
    # the operator's allow_private pair stands for a member's site: its images stay
    own = f"http://127.0.0.1:{published.port}/media/open-day.jpg"
    assert published.posts["https://port.example.org/open-day"].image == own


def test_no_output_names_a_tracking_pixel_or_a_private_address(published: Published) -> None:
    found = [
        (path.name, needle)
        for path in output_files(published)
        for needle in PRIVATE_OR_TRACKING
        if needle in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert found == []


def test_the_digest_leads_with_the_photo_not_the_pixel(published: Published) -> None:
    assert published.posts["https://port.example.org/harbour-works"].image == (
        "https://cdn.port.example.org/harbour.jpg"
    )
    assert published.posts["https://port.example.org/ferry-winter"].image is None
    # the photo is shown only once the site holds a copy (it cannot be fetched here): no
    # email points a reader's mail client at a member's server
    doc = lxml.html.fromstring(published.digest_html.read_bytes())
    sources = [i.get("src") for i in doc.cssselect("td.item img")]
    assert all(src.startswith("https://news.example.org/images/") for src in sources), sources


# --------------------------------------------------------------------------------------------
# Point 11: direction controls and separators

RLO, RLE, PDF, FSI, PDI = "\u202e", "\u202b", "\u202c", "\u2068", "\u2069"


def test_an_override_left_open_is_removed_and_pairs_stay(published: Published) -> None:
    fees = published.posts["https://twins.example.org/fees"]
    assert fees.title == "Harbour fees reduced for fishing boats"
    assert fees.excerpt == "Fees go down in January for boats under twelve metres."
    assert RLE not in fees.content_html
    greetings = published.posts["https://twins.example.org/greetings"].title
    assert greetings == f"Greetings {RLE}שלום עולם{PDF} from our twin town"
    delegation = published.posts["https://twins.example.org/delegation"].title
    assert delegation == f"Delegation from {FSI}القاهرة{PDI} visits the port"


def test_every_output_closes_what_it_opens(published: Published) -> None:
    for path in output_files(published):
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".eml":
            text = "".join(email_parts(published))
        assert RLO not in text, path.name
        assert (text.count(RLE), text.count(FSI)) == (text.count(PDF), text.count(PDI)), path.name


def test_line_separators_separate_words(published: Published) -> None:
    post = published.posts["https://twins.example.org/separators"]
    assert post.title == "Line separated words and para graphs"
    assert "First line<br>second line<br>next paragraph" in post.content_html
    assert post.excerpt == "First line second line next paragraph"
    for path in output_files(published):
        text = path.read_text(encoding="utf-8", errors="replace")
        assert "\u2028" not in text and "\u2029" not in text, path.name


def test_a_next_line_control_separates_words(published: Published) -> None:
    assert published.posts["https://nel.example.org/tram"].title == "Tram line opens in spring"


def test_member_text_is_isolated_in_pages_and_the_digest(published: Published) -> None:
    page = lxml.html.fromstring((published.out / "index.html").read_bytes())
    for selector in ("h3.post-title", "p.excerpt", "span.tags"):
        assert {el.get("dir") for el in page.cssselect(selector)} <= {"auto"}, selector
    assert page.cssselect("h3.post-title")
    for html in (published.digest_html.read_text(encoding="utf-8"), email_parts(published)[1]):
        doc = lxml.html.fromstring(html)
        for selector in (".item-title", ".excerpt"):
            assert {el.get("dir") for el in doc.cssselect(selector)} == {"auto"}, selector
        organisations = [el.text_content() for el in doc.cssselect(".from bdi")]
        assert "Twins org" in organisations


# --------------------------------------------------------------------------------------------
# Point 5: feeds check says which entries were dated when first seen


def test_feeds_check_counts_the_entries_without_a_readable_date(published: Published) -> None:
    run = CliRunner().invoke(main, ["feeds", "check", "--config", str(published.config)])
    assert run.exit_code == 0, run.output
    lines = run.stdout.splitlines()
    assert "undated: ok, 5 entries" in lines
    assert "undated: 3 of 5 entries have no readable date: dated when first seen" in lines
    assert [
        line for line in lines if "readable date" in line and not line.startswith("undated:")
    ] == []
