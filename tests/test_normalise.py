"""normalise.py, bylines.py and urls.py: the blog model a reader sees, built from parsed entries.

The seed listings in ``shared/seeds`` are turned into ``ParsedEntry`` values exactly as they
read (title line, "tags - dd/mm/yyyy" line, teaser ending "(+)") and every seed case is checked:
missing titles, tags and dates, bylines, three languages, bilingual tags.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.ingest.bylines import split_byline
from aggregator.ingest.dates import read_date
from aggregator.ingest.identity import post_id
from aggregator.ingest.normalise import clean_tags, clean_title, derive_title, normalise
from aggregator.ingest.plaintext import strip_markup
from aggregator.ingest.urls import canonicalize
from aggregator.models import Author, Link, ParsedEntry, ParsedFeed, Post, Source
from tests.conftest import require_seeds

FEED_URL = "https://www.uclg.example/en/blog/feed"
SOURCE = Source(
    id="uclg-blog",
    name="UCLG blog",
    organisation="UCLG",
    url=FEED_URL,
    homepage="https://www.uclg.example/en/blog",
    language="en",
    tags=("network", "global"),
    day_first=True,
)
_META = re.compile(r"^(?:(?P<tags>.*?)\s+)?-\s(?P<date>\d{2}/\d{2}/\d{4})$")


def seed_entries() -> list[ParsedEntry]:
    """The seed listings as entries: what a scraper of that page would hand over."""
    entries: list[ParsedEntry] = []
    for path in sorted(require_seeds().glob("*.txt")):
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        pending: list[str] = []
        for line in lines[2:]:  # two intro paragraphs
            if not line.endswith("(+)"):
                pending.append(line)
                continue
            tags, date, title = "", None, None
            if pending and (m := _META.match(pending[-1])):
                tags, date = m["tags"] or "", m["date"]
                pending.pop()
            if pending:
                title = pending.pop()
            entries.append(
                ParsedEntry(
                    title=title,
                    tags=(tags,) if tags else (),
                    published=read_date(date, day_first=True),
                    published_raw=date,
                    summary=line,
                )
            )
            pending = []
    return entries


def feed(*entries: ParsedEntry, **kw: object) -> ParsedFeed:
    return ParsedFeed(url=FEED_URL, format="rss20", entries=entries, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def seed_posts() -> list[Post]:
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    return normalise(feed(*seed_entries()), SOURCE, now)


def find(posts: list[Post], start: str) -> Post:
    matches = [p for p in posts if p.title.startswith(start) or p.excerpt.startswith(start)]
    assert len(matches) == 1, [p.title for p in posts]
    return matches[0]


# --------------------------------------------------------------------------------------------
# The seeds


def test_each_post_is_what_its_entry_gives_alone(seed_posts: list[Post]) -> None:
    """``normalise`` takes one step at a time over all a document's entries (for the CPU's
    caches, not entry by entry): every post is still the one its entry gives on its own, in
    the three languages of the seeds."""
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    alone = [normalise(feed(entry), SOURCE, now) for entry in seed_entries()]
    assert [posts[0] for posts in alone] == seed_posts
    assert {p.language for p in seed_posts} >= {"en", "fr", "es"}


def test_every_seed_entry_becomes_one_post(seed_posts: list[Post]) -> None:
    assert len(seed_entries()) == 12
    assert len(seed_posts) == 12
    assert len({p.id for p in seed_posts}) == 12


def test_seed_posts_hold_no_markup_and_short_excerpts(seed_posts: list[Post]) -> None:
    for post in seed_posts:
        assert post.title and len(post.title) <= 300
        assert len(post.excerpt) <= 300
        assert "(+)" not in post.excerpt and "<" not in post.excerpt
        assert post.link.startswith("https://")
        assert post.published.tzinfo is not None and post.published.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("start", "lang", "date", "tags"),
    [
        ("What Daejeon has been preparing", "en", "2022-03-25", ()),
        ("Local and regional governments pave way", "en", "2021-07-20",
         ("COVID19", "public services")),
        ("Making Cities Resilient 2030", "en", "2021-05-27", ("Résilience", "Resiliencia")),
        ("Supportive Sousse", "en", "2020-11-03", ("Migration",)),
        ("Rosemont-La Petite-Patrie", "en", "2020-11-03", ("mobility",)),
        ("La cultura como respuesta", "es", None, ()),
        ("It Takes Two to Tango", "en", None, ()),
        ("Welcoming Bologna", "fr", "2018-09-28", ("Migration",)),
        ("Kazan was Mentioned", "en", "2018-07-13", ()),
        ("For many municipalities in Flanders", "en", "2018-03-12", ()),
        ("If today everyone praises", "en", "2017-10-25", ("Vivienda",)),
        ("Dicen que la forma", "es", "2017-10-24", ()),
    ],
)  # fmt: skip
def test_seed_fields(
    seed_posts: list[Post], start: str, lang: str, date: str | None, tags: tuple[str, ...]
) -> None:
    post = find(seed_posts, start)
    assert post.language == lang
    assert post.tags == tags
    if date is None:  # no date on the page: the post is dated when we first saw it
        assert post.published == post.first_seen == datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    else:
        assert post.published.date().isoformat() == date


def test_seed_byline_with_affiliations(seed_posts: list[Post]) -> None:
    post = find(seed_posts, "It Takes Two to Tango")
    assert [(a.name, a.affiliation) for a in post.authors] == [
        ("Kelly Henao", "Columbus Association"),
        ("Daniel Samoilovich", "Columbus Association"),
        ("Sara Hoeflich", "United Cities and Local Governments"),
    ]
    assert post.excerpt.startswith("This article stresses the main results")
    assert not post.title_derived


def test_seed_byline_without_punctuation_before_french_text(seed_posts: list[Post]) -> None:
    post = find(seed_posts, "Welcoming Bologna")
    assert [(a.name, a.affiliation) for a in post.authors] == [
        ("Flore Thoreau La Salle", "Project Manaher of Welcoming Bologna for Africa e Mediterraneo")
    ]
    assert post.excerpt.startswith("Une rencontre dans une paroisse")


def test_seed_untitled_posts_get_a_title_from_their_first_sentence(seed_posts: list[Post]) -> None:
    vos = find(seed_posts, "For many municipalities in Flanders")
    assert vos.title_derived
    assert vos.title == (
        "For many municipalities in Flanders (Belgium) sustainable development is not an empty term"
    )
    assert [(a.name, a.affiliation) for a in vos.authors] == [("Mieck Vos", "CEO VVSG")]
    assert not vos.excerpt.startswith("By ")

    chueca = find(seed_posts, "If today everyone praises")
    assert chueca.title_derived and len(chueca.title) <= 90 and chueca.title.endswith("…")
    assert [a.name for a in chueca.authors] == ["Mohamed Boussraoui", "Lamine Abbad", "Eva Chueca"]

    matito = find(seed_posts, "Dicen que la forma")
    assert matito.title_derived and len(matito.title) <= 90
    assert [(a.name, a.affiliation) for a in matito.authors] == [
        ("Fatima Santiago Matito", "UCLG communication officer")
    ]
    assert matito.excerpt.startswith("Dicen que la forma en que nos comunicamos")


def test_seed_teasers_keep_their_words(seed_posts: list[Post]) -> None:
    sousse = find(seed_posts, "Supportive Sousse")
    assert sousse.excerpt.startswith("Mobilising stakeholders and CSOs")
    assert sousse.excerpt.endswith(("…", "..."))
    resilient = find(seed_posts, "Making Cities Resilient 2030")
    assert len(resilient.excerpt) <= 300 and resilient.excerpt.endswith("…")


def test_bilingual_tags_map_onto_one_topic() -> None:
    entry = ParsedEntry(
        title="Making Cities Resilient 2030",
        link="https://www.uclg.example/en/blog/mcr2030",
        tags=("Résilience, Resiliencia", "resilience", "RÉSILIENCE", "Uncategorized"),
    )
    topics = {"resilience": ["Resilience", "Résilience", "Resiliencia"], "housing": ["Vivienda"]}
    [post] = normalise(feed(entry), SOURCE, NOW, topics=topics)
    assert post.tags == ("Résilience", "Resiliencia")
    assert post.topics == ("resilience",)
    assert "network" not in post.tags  # the source's own tags stay on the source


# --------------------------------------------------------------------------------------------
# Bylines on their own


@pytest.mark.parametrize(
    ("text", "names", "rest"),
    [
        ("Par Marie Dupont, maire de Lyon\nLe texte commence ici.", [("Marie Dupont",
          "maire de Lyon")], "Le texte commence ici."),
        ("Por Ana García y Luis Pérez – CGLU. La ciudad de Barcelona.",
         [("Ana García", "CGLU"), ("Luis Pérez", "CGLU")], "La ciudad de Barcelona."),
        ("By J. R. Smith. The council met.", [("J. R. Smith", None)], "The council met."),
        ("By Carlos Martínez, Mayor of Soria, CEMR Vice-President\nText.",
         [("Carlos Martínez", "Mayor of Soria, CEMR Vice-President")], "Text."),
    ],
)  # fmt: skip
def test_bylines(text: str, names: list[tuple[str, str | None]], rest: str) -> None:
    authors, body = split_byline(text)
    assert [(a.name, a.affiliation) for a in authors] == names
    assert body == rest


@pytest.mark.parametrize(
    "text",
    [
        "By 2030, cities will change.",
        "Por último, la ciudad.",
        "By the river, a new park opens.",
        "Par ailleurs, le conseil a voté.",
        "Byzantine history of the city.",
    ],
)
def test_text_that_only_starts_like_a_byline_is_kept(text: str) -> None:
    assert split_byline(text) == ((), text)


def test_authors_entry_then_byline_then_feed() -> None:
    text = "<p>By Ann Lee, Policy officer</p><p>The council met.</p>"
    feed_author = (Author(name="UCLG"),)
    with_entry = ParsedEntry(
        title="t1", link="https://x.example/1", summary=text, authors=(Author(name="Bob Roe"),)
    )
    with_byline = ParsedEntry(
        title="t2", link="https://x.example/2", summary=text, authors=(Author(name="admin"),)
    )
    bare = ParsedEntry(title="t3", link="https://x.example/3", summary="<p>The council met.</p>")
    posts = normalise(feed(with_entry, with_byline, bare, authors=feed_author), SOURCE, NOW)
    assert [[a.name for a in p.authors] for p in posts] == [["Bob Roe"], ["Ann Lee"], ["UCLG"]]
    assert posts[1].authors[0].affiliation == "Policy officer"
    assert posts[0].excerpt == posts[1].excerpt == "The council met."


def test_rss_author_addresses_are_split_and_bare_addresses_dropped() -> None:
    entry = ParsedEntry(
        title="t", link="https://x.example/1",
        authors=(Author(name="press@city.example (Jane Roe)"), Author(name="x@y.example")),
    )  # fmt: skip
    [post] = normalise(feed(entry), SOURCE, NOW)
    assert post.authors == (Author(name="Jane Roe", email="press@city.example"),)


# --------------------------------------------------------------------------------------------
# Identity

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _entry(**kw: object) -> ParsedEntry:
    base: dict[str, object] = {
        "title": "Housing plan",
        "guid": "tag:uclg,2026:1",
        "link": "https://www.uclg.example/en/blog/housing-plan",
    }
    base.update(kw)
    return ParsedEntry(**base)  # type: ignore[arg-type]


def _id(entry: ParsedEntry, *others: ParsedEntry) -> str:
    return normalise(feed(entry, *others), SOURCE, NOW)[0].id


def test_id_survives_guid_changes_https_moves_and_tracking_parameters() -> None:
    first = _id(_entry())
    assert first.startswith("uclg-blog:") and len(first) == len("uclg-blog:") + 32
    assert _id(_entry(guid="https://www.uclg.example/?p=991")) == first
    assert _id(_entry(link="http://uclg.example/en/blog/housing-plan/")) == first
    assert (
        _id(_entry(link="https://www.uclg.example/en/blog/housing-plan?utm_source=nl#top")) == first
    )


def test_id_falls_back_to_the_guid_when_links_cannot_name_the_post() -> None:
    home = "https://www.uclg.example/en/blog"
    a = _entry(link=home, guid="post-a")
    b = _entry(link=home, guid="post-b", title="Other")
    posts = normalise(feed(a, b), SOURCE, NOW)
    assert len({p.id for p in posts}) == 2
    assert posts[0].id == post_id("uclg-blog", guid="post-a")
    shared = "https://www.uclg.example/en/blog/all"
    posts = normalise(
        feed(_entry(link=shared, guid="g1"), _entry(link=shared, guid="g2")), SOURCE, NOW
    )
    assert [p.id for p in posts] == [post_id("uclg-blog", guid=g) for g in ("g1", "g2")]


def test_reused_or_numbered_guids_are_not_trusted() -> None:
    a = ParsedEntry(guid="1", title="First", published_raw="01/02/2024")
    b = ParsedEntry(guid="same", title="Second", published_raw="02/02/2024")
    c = ParsedEntry(guid="same", title="Third", published_raw="03/02/2024")
    posts = normalise(feed(a, b, c), SOURCE, NOW)
    assert len({p.id for p in posts}) == 3
    assert posts[0].guid == "1"  # the publisher's guid is still kept
    again = normalise(feed(replace(a, guid="7"), b, c), SOURCE, NOW)
    assert posts[0].id == again[0].id


def test_same_story_twice_in_one_document_gives_one_post() -> None:
    twice = normalise(
        feed(
            ParsedEntry(title="Same", published_raw="01/01/2024"),
            ParsedEntry(title="Same", published_raw="01/01/2024"),
        ),
        SOURCE,
        NOW,
    )
    assert len(twice) == 1


def test_normalise_is_pure_and_first_seen_is_kept() -> None:
    entry = _entry(summary="<p>Plan.</p>")
    first = normalise(feed(entry), SOURCE, NOW)
    assert first == normalise(feed(entry), SOURCE, NOW)
    later = NOW + timedelta(days=3)
    again = normalise(feed(entry), SOURCE, later, known_first_seen={first[0].id: NOW})
    assert again[0].first_seen == NOW
    assert again[0].content_hash == first[0].content_hash


def test_dateless_posts_hash_the_same_without_their_stored_first_seen() -> None:
    entry = ParsedEntry(title="No date", summary="<p>Text.</p>", guid="tag:x,1")
    today = normalise(feed(entry), SOURCE, NOW)[0]
    tomorrow = normalise(feed(entry), SOURCE, NOW + timedelta(days=1))[0]
    assert today.published == NOW and tomorrow.published == NOW + timedelta(days=1)
    assert today.content_hash == tomorrow.content_hash
    future = replace(entry, published=NOW + timedelta(days=30))
    assert normalise(feed(future), SOURCE, NOW)[0].content_hash == today.content_hash


def test_content_hash_follows_every_field_but_first_seen() -> None:
    base = normalise(feed(_entry(summary="<p>Plan.</p>")), SOURCE, NOW)[0]
    changed = [
        _entry(summary="<p>Plan!</p>"),
        _entry(summary="<p>Plan.</p>", title="Housing plan 2"),
        _entry(summary="<p>Plan.</p>", tags=("Vivienda",)),
        _entry(summary="<p>Plan.</p>", published=datetime(2026, 1, 1, tzinfo=UTC)),
        _entry(summary="<p>Plan.</p>", images=("https://cdn.example/a.jpg",)),
    ]
    for entry in changed:
        post = normalise(feed(entry), SOURCE, NOW, known_first_seen={base.id: NOW})[0]
        assert post.id == base.id
        assert post.content_hash != base.content_hash, entry


# --------------------------------------------------------------------------------------------
# Links and URLs


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("HTTPS://WWW.Example.ORG:443/a/b?x=1&utm_source=nl&fbclid=z#frag", None,
         "https://www.example.org/a/b?x=1"),
        ("http://example.org:80", None, "http://example.org/"),
        ("http://example.org:8080/p", None, "http://example.org:8080/p"),
        ("../post?gclid=1&mc_cid=2&mc_eid=3", "https://example.org/blog/feed/",
         "https://example.org/blog/post"),
        ("  /p a t h\t", "https://example.org/", "https://example.org/p%20a%20t%20h"),
        ("https://user:pw@example.org/x", None, "https://example.org/x"),
        ("https://bücher.example/ü", None, "https://xn--bcher-kva.example/%C3%BC"),
        ("javascript:alert(1)", "https://example.org/", None),
        ("java\nscript:alert(1)", "https://example.org/", None),
        ("data:text/html,x", None, None),
        ("mailto:a@example.org", None, None),
        ("ftp://example.org/f", None, None),
        ("http://", None, None),
        ("http://example.org:99999/", None, None),
        ("", None, None),
        ("relative/only", None, None),
    ],
)  # fmt: skip
def test_canonicalize(url: str, base: str | None, expected: str | None) -> None:
    assert canonicalize(url, base) == expected


def test_links_resolve_against_xml_base_then_the_document() -> None:
    with_base = _entry(link="2026/plan", base="https://members.example/news/")
    without = _entry(link="/en/blog/plan", title="Other", guid="x2")
    posts = normalise(feed(with_base, without), SOURCE, NOW)
    assert posts[0].link == "https://members.example/news/2026/plan"
    assert posts[1].link == "https://www.uclg.example/en/blog/plan"


def test_script_links_fall_back_to_a_guid_url_then_the_home_page() -> None:
    a = _entry(link="javascript:alert(1)", guid="https://www.uclg.example/?p=5")
    b = _entry(link="data:text/html,x", guid="tag:uclg,2026:9", title="Other")
    posts = normalise(feed(a, b), SOURCE, NOW)
    assert posts[0].link == "https://www.uclg.example/?p=5"
    assert posts[1].link == "https://www.uclg.example/en/blog"


def test_translations_come_from_hreflang_alternates() -> None:
    entry = _entry(links=(
        Link(href="https://www.uclg.example/en/blog/housing-plan"),
        Link(href="/fr/blog/plan-logement?utm_medium=x", hreflang="fr-FR"),
        Link(href="https://www.uclg.example/es/blog/plan", hreflang="es", type="text/html"),
        Link(href="javascript:x", hreflang="de"),
    ))  # fmt: skip
    [post] = normalise(feed(entry), SOURCE, NOW)
    assert post.translations == (
        Link(href="https://www.uclg.example/fr/blog/plan-logement", hreflang="fr"),
        Link(href="https://www.uclg.example/es/blog/plan", type="text/html", hreflang="es"),
    )


# --------------------------------------------------------------------------------------------
# Titles, excerpts, content, images


def test_titles_are_cleaned_and_capped() -> None:
    raw = "  Caf&amp;eacute; <b>culture</b>\x1b[31m\x07 &amp; the\n\n city  " + " word" * 100
    [post] = normalise(feed(_entry(title=raw)), SOURCE, NOW)
    assert post.title.startswith("Café culture[31m & the city word")
    assert len(post.title) <= 300 and post.title.endswith("word…")
    assert "\x1b" not in post.title and "\x07" not in post.title


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Recettes <dépenses en 2027 ?", "Recettes <dépenses en 2027 ?"),
        ("Why <script> tags are dangerous", "Why <script> tags are dangerous"),
        ("#include </etc/shadow>", "#include </etc/shadow>"),
        ("#include <stdio.h>", "#include <stdio.h>"),
        ("Q&A with AT&T", "Q&A with AT&T"),
        ("Fish &amp;amp; chips", "Fish & chips"),  # escaped twice
        ("<b>Bold</b> news", "Bold news"),
        ("Bo<b>ld</b> news", "Bold news"),  # inline tags leave nothing
        ("<p>One</p><p>Two</p>", "One Two"),  # block tags leave a space
        ("Line<br>break<br/>here", "Line break here"),
        ("<img src=x onerror=alert(1)>Pixels", "Pixels"),
        ("<svg/onload=alert(1)>Vector", "Vector"),
        ("<script>alert(1)</script>Minutes", "Minutes"),
        ("<i>Open <b>and</i> shut", "Open <b>and shut"),  # an end tag closes its own name
        ("&lt;em&gt;Escaped&lt;/em&gt; markup", "Escaped markup"),
        ("<<b x>img src=x onerror=alert(1)>", ""),  # a tag rebuilt by a removal goes too
        ("a <!-- note --> b", "a b"),
        ("Vector<T> and Map<K, V>", "Vector<T> and Map<K, V>"),
    ],
)
def test_a_title_is_text_and_only_markup_goes(raw: str, expected: str) -> None:
    assert clean_title(raw) == expected


def test_missing_title_without_text_uses_the_link_slug() -> None:
    [post] = normalise(
        feed(_entry(title=None, link="https://x.example/news/new-bike-lanes.html")), SOURCE, NOW
    )
    assert post.title == "New bike lanes" and post.title_derived


def test_derive_title_stops_at_the_first_sentence() -> None:
    assert derive_title("The council met. It voted.") == "The council met"
    assert derive_title("Why now? Because.") == "Why now?"


def test_excerpt_from_summary_else_content_and_content_sanitized() -> None:
    entry = _entry(
        summary=None,
        content="<p>Read <a href='/docs/plan.pdf' onclick='x()'>the plan</a>&nbsp;&amp; "
        "comment.</p><script>steal()</script><img data-src='/img/lead.jpg' alt='lead'>",
    )
    [post] = normalise(feed(entry), SOURCE, NOW)
    assert post.excerpt == "Read the plan & comment."
    assert "script" not in post.content_html and "onclick" not in post.content_html
    assert 'href="https://www.uclg.example/docs/plan.pdf"' in post.content_html
    assert post.image == "https://www.uclg.example/img/lead.jpg"


def test_image_prefers_media_then_enclosure_then_content() -> None:
    content = "<img src='https://cdn.example/in-content.jpg'>"
    media = _entry(content=content, images=("javascript:x", "/media/thumb.jpg"))
    enclosure = _entry(
        content=content, links=(Link(href="/f/photo.png", rel="enclosure", type="image/png"),)
    )
    posts = [
        normalise(feed(e), SOURCE, NOW)[0] for e in (media, enclosure, _entry(content=content))
    ]
    assert [p.image for p in posts] == [
        "https://www.uclg.example/media/thumb.jpg",
        "https://www.uclg.example/f/photo.png",
        "https://cdn.example/in-content.jpg",
    ]


# --------------------------------------------------------------------------------------------
# Dates


def test_dates_fall_back_published_updated_first_seen() -> None:
    upd = datetime(2026, 5, 1, 8, 0, tzinfo=timezone(timedelta(hours=2)))
    posts = normalise(
        feed(_entry(updated=upd), _entry(title="b", guid="b", link=None)), SOURCE, NOW
    )
    assert posts[0].published == posts[0].updated == datetime(2026, 5, 1, 6, 0, tzinfo=UTC)
    assert posts[1].published == posts[1].first_seen == NOW


def test_future_dates_are_clamped_to_first_seen() -> None:
    soon = NOW + timedelta(minutes=5)
    later = NOW + timedelta(days=400)
    posts = normalise(
        feed(_entry(published=soon), _entry(title="b", guid="b", link=None, published=later)),
        SOURCE,
        NOW,
    )
    assert posts[0].published == soon
    assert posts[1].published == NOW and posts[1].updated == NOW


def test_naive_dates_are_taken_as_utc_and_updated_never_before_published() -> None:
    entry = _entry(published=datetime(2026, 3, 1, 10), updated=datetime(2026, 2, 1))
    [post] = normalise(feed(entry), SOURCE, NOW)
    assert post.published == datetime(2026, 3, 1, 10, tzinfo=UTC) == post.updated


def test_raw_date_text_is_never_read_again() -> None:
    """Dates are read once, by ingest.dates in the parser; normalise trusts what it is given,
    so a raw text beside a missing date leaves the post dated when it was first seen."""
    entry = _entry(published=None, published_raw="03/11/2020")
    [post] = normalise(feed(entry), SOURCE, NOW)
    assert post.published == NOW


def test_zero_dates_handed_over_count_as_missing() -> None:
    entry = _entry(published=datetime(1970, 1, 1, tzinfo=UTC), updated=datetime(1, 1, 1))
    [post] = normalise(feed(entry), SOURCE, NOW)
    assert post.published == post.updated == NOW


def test_impossible_dates_never_crash() -> None:
    entries = [
        _entry(title=f"t{i}", guid=f"g{i}", link=None, published_raw=raw)
        for i, raw in enumerate(["31/02/2022", "00/00/0000", "9" * 70, "2024-13-45"])
    ]
    posts = normalise(feed(*entries), SOURCE, NOW)
    assert all(p.published == NOW for p in posts)


# --------------------------------------------------------------------------------------------
# Language


def test_language_declared_then_feed_then_detected_then_source() -> None:
    fr = "Le conseil municipal adopte un plan ambitieux pour le logement abordable des familles"
    es = "El ayuntamiento aprueba nuevos carriles para bicicletas junto al río"
    posts = normalise(feed(
        _entry(title=fr, guid="1", link=None, language="en-GB"),
        _entry(title=es, guid="2", link=None),
        _entry(title="Kazan", guid="3", link=None),
    ), replace(SOURCE, language="fr"), NOW)  # fmt: skip
    assert [p.language for p in posts] == ["en", "es", "fr"]


def test_an_entry_language_copied_from_the_channel_counts_as_the_channels() -> None:
    es = "La cultura como respuesta a los retos urbanos globales de las ciudades del mundo"
    fr_declared = "Housing policy in European cities after the crisis of the last decade"
    posts = normalise(
        feed(
            _entry(title=es, guid="1", link=None, language="en"),
            _entry(title=fr_declared, guid="2", link=None, language="fr"),
            language="en",
        ),
        SOURCE,
        NOW,
    )
    assert [p.language for p in posts] == ["es", "fr"]


def test_a_feed_wide_language_loses_only_to_a_sure_detection() -> None:
    fr = "Le conseil municipal adopte un plan ambitieux pour le logement abordable des familles"
    posts = normalise(
        feed(_entry(title=fr, guid="1", link=None), _entry(title="Kazan", guid="2", link=None),
             language="en-US"),
        SOURCE, NOW,
    )  # fmt: skip
    assert [p.language for p in posts] == ["fr", "en"]


# --------------------------------------------------------------------------------------------
# Properties


_MARKUP_TEXT = st.text(
    alphabet=st.one_of(st.sampled_from(list("<>/=\"' &;ab")), st.characters()), max_size=400
)


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=800), title=st.one_of(st.none(), st.text(max_size=400), _MARKUP_TEXT))
def test_property_excerpt_and_title_are_short_plain_text(text: str, title: str | None) -> None:
    [post] = normalise(feed(ParsedEntry(title=title, summary=text)), SOURCE, NOW)
    assert len(post.excerpt) <= 300 and len(post.title) <= 300
    assert not re.search(r"<[A-Za-z/!?][^<>]*>", post.excerpt)
    # a "<" may stay in a title as text ("Why <script> tags…"), but no markup does: no tag with
    # attributes, no element closed by its end tag, nothing a second reading would remove
    assert strip_markup(post.title) == post.title
    assert not re.search(r"<[A-Za-z][A-Za-z0-9:-]*[\s/][^<>]*=", post.title)
    for value in (post.excerpt, post.title):
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", value)
    assert post.title


def test_clean_tags_splits_and_dedups_without_accents() -> None:
    assert clean_tags(["Résilience, Resiliencia", "resilience", " COVID19 ,, public services",
                       "<b>Vivienda</b>", "Non classé"]) == (
        "Résilience", "Resiliencia", "COVID19", "public services", "Vivienda")  # fmt: skip


_URLS = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.sampled_from([
        "javascript:alert(1)", "/rel/path", "https://ok.example/a?utm_source=x", "http://[::1",
        "http://h:99999/", "//cdn.example/x.jpg", "data:image/png;base64,AA", " https://a.example ",
        "mailto:a@b.example", "https://ok.example/a", "file:///etc/passwd", "http://",
    ]),
)  # fmt: skip
_DATES = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
)
_ENTRIES = st.builds(
    ParsedEntry,
    guid=st.one_of(st.none(), st.text(max_size=20), st.sampled_from(["1", "https://g.example/1"])),
    link=_URLS,
    title=st.one_of(st.none(), st.text(max_size=60)),
    summary=st.one_of(st.none(), st.text(max_size=200)),
    content=st.one_of(st.none(), st.text(max_size=200)),
    authors=st.lists(st.builds(Author, name=st.text(max_size=20)), max_size=2).map(tuple),
    tags=st.lists(st.text(max_size=20), max_size=3).map(tuple),
    published=_DATES,
    updated=_DATES,
    published_raw=st.one_of(st.none(), st.text(max_size=20), st.sampled_from(["31/02/2022"])),
    language=st.one_of(st.none(), st.text(max_size=6), st.sampled_from(["fr-CA", "es"])),
    base=_URLS,
    links=st.lists(
        st.builds(
            Link,
            href=st.text(max_size=30) | st.sampled_from(["/fr/x", "javascript:x"]),
            rel=st.sampled_from(["alternate", "enclosure"]),
            hreflang=st.one_of(st.none(), st.sampled_from(["fr", "xx-yy", "", "de-DE"])),
        ),
        max_size=3,
    ).map(tuple),
    images=st.lists(_URLS.filter(lambda u: u is not None), max_size=2).map(tuple),
)


@settings(max_examples=200, deadline=None)
@given(entries=st.lists(_ENTRIES, max_size=4))
def test_property_any_entries_give_well_formed_posts(entries: list[ParsedEntry]) -> None:
    posts = normalise(feed(*entries), SOURCE, NOW)
    assert len(posts) <= len(entries)
    assert len({p.id for p in posts}) == len(posts)
    for post in posts:
        assert canonicalize(post.link) == post.link
        assert post.image is None or post.image.startswith(("http://", "https://"))
        for when in (post.published, post.updated, post.first_seen):
            assert when.utcoffset() == timedelta(0)
        assert post.published <= NOW + timedelta(minutes=10)
        assert post.updated >= post.published
        assert post.language and post.language == post.language.lower()
        assert all(t.href.startswith(("http://", "https://")) for t in post.translations)
        assert len(post.content_hash) == 64


# --------------------------------------------------------------------------------------------
# Posts cross the process boundary


def test_posts_cross_the_process_boundary_whole() -> None:
    import pickle

    when = datetime(2026, 3, 1, tzinfo=UTC)
    post = Post(
        id="s:1", source_id="s", guid=None, title="T", link="https://a.example/1",
        published=when, updated=when, first_seen=when, language="en", excerpt="e",
        content_html="<p>e</p>", title_derived=True, authors=(Author("A", "Org", None, None),),
        tags=("x",), topics=("y",), image=None, content_hash="h", also_from=("t",),
        translations=(Link("https://a.example/fr/1", "alternate", None, "fr", 12),),
    )  # fmt: skip
    back = pickle.loads(pickle.dumps(post, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == post
    assert isinstance(back.authors[0], Author)
    assert back.translations[0].length == 12
