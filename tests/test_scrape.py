"""scrape.py: listing pages without a feed, read by the operator's CSS selectors.

The full listing fixture (``tests/data/parse/listing.html``, modelled on the UCLG blog captures)
is compared field by field in ``test_parse.py``; these tests pin the quirks one by one.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

import pytest

from aggregator.errors import ParseError
from aggregator.ingest.scrape import scrape_listing
from aggregator.models import ScrapeRules
from tests.conftest import require_seeds

URL = "https://city.example.org/en/blog/"
RULES = ScrapeRules(
    item="article",
    title="h3",
    link="h3 a, a.more",
    date=".meta",
    tags=".meta",
    excerpt=".excerpt",
)


def _page(*articles: str, head: str = "") -> bytes:
    return f"<html lang='es'><head>{head}</head><body>{''.join(articles)}</body></html>".encode()


def _article(
    title: str | None = None, meta: str | None = None, excerpt: str = "", href: str = "p"
) -> str:
    parts = ["<article>"]
    if title is not None:
        parts.append(f"<h3><a href='{href}'>{html.escape(title)}</a></h3>")
    if meta is not None:
        parts.append(f"<p class='meta'>{html.escape(meta)}</p>")
    parts.append(
        f"<p class='excerpt'>{html.escape(excerpt)} <a class='more' href='{href}'>(+)</a></p>"
    )
    parts.append("</article>")
    return "".join(parts)


def test_meta_line_with_tags_and_day_first_date() -> None:
    feed = scrape_listing(
        _page(_article("T", "Résilience, Resiliencia - 27/05/2021", "Text")), url=URL, rules=RULES
    )
    entry = feed.entries[0]
    assert entry.tags == ("Résilience", "Resiliencia")
    assert entry.published == datetime(2021, 5, 27, tzinfo=UTC)
    assert entry.published_raw == "27/05/2021"
    assert feed.format == "html"
    assert feed.language == "es"


def test_missing_title_takes_the_read_more_link() -> None:
    feed = scrape_listing(
        _page(_article(None, "- 12/03/2018", "By Someone, CEO", href="/posts/7")),
        url=URL,
        rules=RULES,
    )
    entry = feed.entries[0]
    assert entry.title is None
    assert entry.tags == ()
    assert entry.link == "https://city.example.org/posts/7"
    assert entry.summary == "By Someone, CEO"


def test_missing_date_keeps_none_and_an_impossible_one_keeps_its_text() -> None:
    feed = scrape_listing(
        _page(_article("A", None, "x"), _article("B", "Vivienda - 31/02/2017", "y")),
        url=URL,
        rules=RULES,
    )
    first, second = feed.entries
    assert (first.published, first.published_raw) == (None, None)
    assert (second.published, second.published_raw) == (None, "31/02/2017")
    assert second.tags == ("Vivienda",)


def test_meta_line_without_a_date_keeps_the_text_as_raw() -> None:
    entry = scrape_listing(
        _page(_article("A", "Barcelona / Roma", "x")), url=URL, rules=RULES
    ).entries[0]
    assert entry.published is None
    assert entry.published_raw == "Barcelona / Roma"


def test_separate_elements_and_another_date_format() -> None:
    rules = ScrapeRules(
        item="li.post",
        title=".t",
        link=".t",
        date="time",
        date_format="%Y-%m-%d",
        tags=".tags",
        excerpt=".x",
    )
    body = _page(
        "<ul><li class='post'><a class='t' href='/a'>Title &amp; more</a>"
        "<time>Published 2023-10-05</time><span class='tags'>housing,  water ,</span>"
        "<div class='x'>Line one<br>line two</div></li></ul>",
        head="<base href='https://cdn.example.org/site/'>",
    )
    entry = scrape_listing(body, url=URL, rules=rules).entries[0]
    assert entry.title == "Title & more"
    assert entry.link == "https://cdn.example.org/a"
    assert entry.published == datetime(2023, 10, 5, tzinfo=UTC)
    assert entry.tags == ("housing", "water")
    assert entry.summary == "Line oneline two"


def test_empty_items_are_skipped_with_a_warning() -> None:
    body = _page("<article><p class='meta'></p></article>", _article("Kept", "- 01/01/2020", "x"))
    feed = scrape_listing(body, url=URL, rules=RULES)
    assert [e.title for e in feed.entries] == ["Kept"]
    assert feed.warnings == ("1 empty items on the page were skipped",)


def test_deeply_nested_page_is_read_without_error() -> None:
    deep = "<div>" * 5000 + "deep" + "</div>" * 5000
    body = _page(_article("A", "- 01/01/2020", "x"), f"<article>{deep}</article>")
    feed = scrape_listing(body, url=URL, rules=RULES)
    assert feed.entries[0].title == "A"


def test_excerpt_is_escaped_html() -> None:
    entry = scrape_listing(
        _page(_article("A", "- 01/01/2020", "a < b & c")), url=URL, rules=RULES
    ).entries[0]
    assert entry.summary == "a &lt; b &amp; c"


def test_cut_keeps_the_newest_items() -> None:
    articles = [_article(f"d{d}", f"- {d:02d}/01/2020", href=f"/{d}") for d in (4, 9, 2, 7)]
    feed = scrape_listing(_page(*articles), url=URL, rules=RULES, max_entries=2)
    assert [e.title for e in feed.entries] == ["d9", "d7"]
    assert feed.warnings


@pytest.mark.parametrize(
    ("body", "rules", "kind", "words"),
    [
        (b"", RULES, "empty", "no content"),
        (_page("<p>nothing</p>"), RULES, "not_a_feed", "'article'"),
        (_page(_article("A")), ScrapeRules(item="article[["), "invalid", "article[["),
    ],
)
def test_unusable_pages_raise(body: bytes, rules: ScrapeRules, kind: str, words: str) -> None:
    with pytest.raises(ParseError) as info:
        scrape_listing(body, url=URL, rules=rules)
    assert info.value.kind == kind
    assert words in str(info.value)


def test_control_characters_are_stripped() -> None:
    entry = scrape_listing(
        _page(_article("Bell\x07 title", "x - 01/02/2020", "esc\x1b text")), url=URL, rules=RULES
    ).entries[0]
    assert entry.title == "Bell title"
    assert entry.summary == "esc text"


def test_meta_lines_of_the_seed_captures() -> None:
    """The meta lines exactly as the UCLG captures show them are read the same way."""
    captured = "\n".join(p.read_text("utf-8") for p in sorted(require_seeds().glob("*.txt")))
    lines = {
        "- 25/03/2022": ((), datetime(2022, 3, 25, tzinfo=UTC)),
        "COVID19, public services - 20/07/2021": (
            ("COVID19", "public services"),
            datetime(2021, 7, 20, tzinfo=UTC),
        ),
        "Résilience, Resiliencia - 27/05/2021": (
            ("Résilience", "Resiliencia"),
            datetime(2021, 5, 27, tzinfo=UTC),
        ),
        "Vivienda - 25/10/2017": (("Vivienda",), datetime(2017, 10, 25, tzinfo=UTC)),
    }
    for line in lines:
        assert line in captured.splitlines(), line
    body = _page(*(_article("t", meta, "e", href=f"/{i}") for i, meta in enumerate(lines)))
    feed = scrape_listing(body, url=URL, rules=RULES)
    assert [(e.tags, e.published) for e in feed.entries] == list(lines.values())
