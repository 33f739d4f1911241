"""ingest/parse/fast.py, the lxml fast path, against feedparser: the same ParsedFeed both ways.

The fast path reads plain RSS 2.0 and Atom 1.0 with lxml and reproduces what feedparser makes
of them; anything else falls back to feedparser.  These differential tests run every document
both ways (the feedparser way by turning the fast path's one switch, ``fast.ENABLED``, off) and
compare field by field, so the fast path cannot drift from feedparser without a test naming the
field that changed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.errors import ParseError
from aggregator.ingest.parse import fast, parse_document
from aggregator.models import ParsedFeed

DATA = Path(__file__).resolve().parent / "data" / "parse"
BENCH = Path(__file__).resolve().parent.parent / "bench"


def both_ways(
    body: bytes, url: str, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch, **kw: Any
) -> tuple[ParsedFeed | str, ParsedFeed | str, bool]:
    """(fast-path result, feedparser result, whether the fast path handled the document)."""
    used: list[bool] = []
    real = fast.read_fast

    def spy(data: bytes, base: str, **kw: Any) -> Any:
        result = real(data, base, **kw)
        used.append(result is not None)
        return result

    def run() -> ParsedFeed | str:
        try:
            return parse_document(body, url=url, headers=headers, **kw)
        except ParseError as exc:
            return f"ParseError({exc.kind}): {exc}"

    with monkeypatch.context() as m:
        m.setattr(fast, "ENABLED", True)
        m.setattr(fast, "read_fast", spy)
        quick = run()
    with monkeypatch.context() as m:
        m.setattr(fast, "ENABLED", False)
        slow = run()
    return quick, slow, any(used)


def assert_same(quick: ParsedFeed | str, slow: ParsedFeed | str) -> None:
    if isinstance(quick, str) or isinstance(slow, str):
        assert quick == slow
        return
    for f in fields(ParsedFeed):
        if f.name != "entries":
            assert getattr(quick, f.name) == getattr(slow, f.name), f"feed.{f.name}"
    assert len(quick.entries) == len(slow.entries), "number of entries"
    for i, (a, b) in enumerate(zip(quick.entries, slow.entries, strict=True)):
        for f in fields(a):
            assert getattr(a, f.name) == getattr(b, f.name), f"entry {i}: {f.name}"
    assert quick == slow


@pytest.mark.parametrize(
    "expected", sorted(DATA.glob("*.expected.json")), ids=lambda p: p.name.split(".")[0]
)
def test_fixtures_read_alike(expected: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    request = json.loads(expected.read_text(encoding="utf-8"))["request"]
    if "rules" in request:
        pytest.skip("an HTML listing: the scraper reads it, not parse_document")
    stem = expected.name.split(".")[0]
    document = next(p for p in DATA.glob(f"{stem}.*") if "expected" not in p.name)
    quick, slow, _ = both_ways(
        document.read_bytes(),
        request["url"],
        request.get("headers", {}),
        monkeypatch,
        day_first=request.get("day_first", False),
    )
    assert_same(quick, slow)


def test_benchmark_corpus_reads_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        from corpus import document_name, generate
    finally:
        sys.path.remove(str(BENCH))
    generate(tmp_path, 6)
    for source in range(6):
        name = document_name(source)
        headers = {"Content-Type": "application/rss+xml" if source % 2 == 0 else "text/xml"}
        quick, slow, used = both_ways(
            (tmp_path / name).read_bytes(), f"http://127.0.0.1:8080/{name}", headers, monkeypatch
        )
        assert used, f"{name} should take the fast path"
        assert_same(quick, slow)


def test_unusual_constructs_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """An element the fast path does not model (an author) sends the document to feedparser."""
    doc = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        b"<item><title>A</title><link>https://a.example/1</link>"
        b"<author>press@city.barcelona (Press Office)</author></item></channel></rss>"
    )
    quick, slow, used = both_ways(doc, "https://a.example/feed", {}, monkeypatch)
    assert not used
    assert_same(quick, slow)
    assert not isinstance(quick, str) and quick.entries[0].authors


# --------------------------------------------------------------------------------------------
# Generated well-formed feeds

# Text that exercises what feedparser does to element text: whitespace stripping, markup and
# entities (escaped in the XML), UTF-8 read as Latin-1 ("Ã©"), C1 characters it maps as
# cp1252, ampersands in links, non-Latin scripts.
_TEXT_ALPHABET = st.sampled_from(
    [
        *"abcXYZ019 .,;:-_/?=#&<>\"'",
        *["é", "Ã©", "ñ", "ü", "\x80", "\x93", "\x9f", "€", "日本", "\n", "\t", "  ", "&amp;"],
        *["<p>", "</p>", "<b>x</b>", "&lt;i&gt;", "http://", "https://x.example/a?b=1&c=2"],
    ]
)
TEXT = st.lists(_TEXT_ALPHABET, max_size=12).map("".join)
URLISH = st.one_of(
    TEXT,
    st.sampled_from(
        [
            "https://member.example.org/posts/1",
            "/relative/path?x=1&amp;y=2",
            "relative.html",
            "HTTPS://Member.Example.ORG/Up/../Case",
            "urn:uuid:1234",
            "tag:example.org,2024:1",
            "javascript:alert(1)",
            "",
            "  https://spaced.example/  ",
        ]
    ),
)
DATES = st.one_of(
    TEXT,
    st.sampled_from(
        [
            "Mon, 01 Jun 2026 07:00:00 +0000",
            "Tue, 30 Feb 2026 25:61:00 GMT",
            "2026-06-01T07:00:00+02:00",
            "2026-06-01",
            "25/03/2022",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "",
        ]
    ),
)
LANGS = st.one_of(st.none(), st.sampled_from(["en", "fr-FR", "es_ES", "", "de"]))


def _lang_attr(lang: str | None) -> str:
    return "" if lang is None else f" xml:lang={quoteattr(lang)}"


def _el(tag: str, text: str, attrs: str = "") -> str:
    return f"<{tag}{attrs}>{escape(text)}</{tag}>"


@st.composite
def rss_documents(draw: st.DrawFn) -> bytes:
    parts: list[str] = []
    for _ in range(draw(st.integers(0, 4))):
        item: list[str] = []
        if draw(st.booleans()):
            item.append(_el("title", draw(TEXT), _lang_attr(draw(LANGS))))
        if draw(st.booleans()):
            item.append(_el("link", draw(URLISH)))
        if draw(st.booleans()):
            permalink = draw(st.sampled_from(["", ' isPermaLink="false"', ' isPermaLink="true"']))
            item.append(_el("guid", draw(URLISH), permalink))
        if draw(st.booleans()):
            item.append(_el("pubDate", draw(DATES)))
        for _ in range(draw(st.integers(0, 3))):
            domain = draw(st.sampled_from(["", ' domain="https://x.example/tags"']))
            item.append(_el("category", draw(TEXT), domain))
        if draw(st.booleans()):
            item.append(_el("description", draw(TEXT), _lang_attr(draw(LANGS))))
        order = draw(st.permutations(item))
        parts.append("<item>" + "".join(order) + "</item>")
    head: list[str] = []
    if draw(st.booleans()):
        head.append(_el("title", draw(TEXT)))
    if draw(st.booleans()):
        head.append(_el("link", draw(URLISH)))
    if draw(st.booleans()):
        head.append(_el("description", draw(TEXT)))
    if draw(st.booleans()):
        head.append(_el("language", draw(st.sampled_from(["en", "fr-FR", " es ", ""]))))
    if draw(st.booleans()):
        head.append(_el("lastBuildDate", draw(DATES)))
    channel = "".join(draw(st.permutations(head))) + "<!-- a comment -->" + "".join(parts)
    root_lang = _lang_attr(draw(LANGS))
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"{root_lang}>'
        f"<channel>\n{channel}\n</channel></rss>"
    ).encode()


@st.composite
def atom_documents(draw: st.DrawFn) -> bytes:
    kinds = st.sampled_from(["", ' type="text"', ' type="html"', ' type="HTML"'])

    def link() -> str:
        attrs = f" href={quoteattr(draw(URLISH))}"
        rel = draw(st.sampled_from(["", "alternate", "self", "enclosure", "Alternate"]))
        if rel:
            attrs += f" rel={quoteattr(rel)}"
        kind = draw(st.sampled_from(["", "text/html", "image/png", "TEXT/HTML"]))
        if kind:
            attrs += f" type={quoteattr(kind)}"
        if draw(st.booleans()):
            attrs += f" hreflang={quoteattr(draw(st.sampled_from(['fr', 'es-ES'])))}"
        if draw(st.booleans()):
            attrs += ' length="1234"'
        return f"<link{attrs}/>"

    entries: list[str] = []
    for _ in range(draw(st.integers(0, 4))):
        entry: list[str] = []
        if draw(st.booleans()):
            entry.append(_el("title", draw(TEXT), draw(kinds) + _lang_attr(draw(LANGS))))
        if draw(st.booleans()):
            entry.append(_el("id", draw(URLISH)))
        entry.extend(link() for _ in range(draw(st.integers(0, 3))))
        for tag in ("updated", "published"):
            if draw(st.booleans()):
                entry.append(_el(tag, draw(DATES)))
        for _ in range(draw(st.integers(0, 3))):
            term = quoteattr(draw(TEXT))
            label = draw(st.sampled_from(["", ' label="Label"']))
            entry.append(f"<category term={term}{label}/>")
        if draw(st.booleans()):
            entry.append(_el("summary", draw(TEXT), draw(kinds)))
        if draw(st.booleans()):
            entry.append(_el("content", draw(TEXT), draw(kinds) + _lang_attr(draw(LANGS))))
        order = draw(st.permutations(entry))
        entries.append(f"<entry{_lang_attr(draw(LANGS))}>" + "".join(order) + "</entry>")
    head: list[str] = []
    if draw(st.booleans()):
        head.append(_el("title", draw(TEXT), draw(kinds)))
    if draw(st.booleans()):
        head.append(_el("id", draw(URLISH)))
    head.extend(link() for _ in range(draw(st.integers(0, 2))))
    if draw(st.booleans()):
        head.append(_el("updated", draw(DATES)))
    body = "".join(draw(st.permutations(head))) + "".join(entries)
    root_lang = _lang_attr(draw(LANGS))
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"'
        f"{root_lang}>\n{body}\n</feed>"
    ).encode()


URLS = st.sampled_from(
    ["https://member.example.org/blog/feed.xml", "http://127.0.0.1:8080/s1.atom"]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=st.one_of(rss_documents(), atom_documents()), url=URLS)
def test_generated_feeds_read_alike(doc: bytes, url: str) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        quick, slow, used = both_ways(doc, url, {"Content-Type": "application/xml"}, monkeypatch)
    assert used, "a plain generated feed should take the fast path"
    assert_same(quick, slow)


@pytest.mark.parametrize(
    ("item", "takes_fast_path"),
    [
        # declared below the root: feedparser reads it (the byte-level "xmlns" check must see it)
        ('<item xmlns:x="urn:x"><title>A</title></item>', False),
        ('<item><title xmlns="">A</title></item>', False),
        # the word in escaped markup declares nothing: still the fast path
        (
            "<item><title>A</title>"
            "<description>&lt;svg xmlns=&quot;u&quot;/&gt;</description></item>",
            True,
        ),
    ],
)
def test_namespace_declarations_below_the_root(
    item: str, takes_fast_path: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{item}</channel></rss>'
    got, slow, used = both_ways(doc.encode(), "https://a.example/feed", {}, monkeypatch)
    assert used is takes_fast_path
    assert_same(got, slow)


def test_atom_namespace_declared_again_below_the_root(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>'
        b'<entry xmlns:m="urn:m"><title>A</title><id>urn:a</id></entry></feed>'
    )
    quick, slow, used = both_ways(doc, "https://a.example/feed", {}, monkeypatch)
    assert not used
    assert_same(quick, slow)


def test_the_switch_sends_every_document_to_feedparser(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'
    kw: dict[str, Any] = {"media_type": "application/xml", "has_doctype": False}
    assert fast.read_fast(doc, "https://a.example/feed", has_content_language=False, **kw)
    monkeypatch.setattr(fast, "ENABLED", False)
    assert fast.read_fast(doc, "https://a.example/feed", has_content_language=False, **kw) is None


def test_the_environment_switches_the_fast_path_off() -> None:
    env = {**os.environ, fast.SWITCH_ENV: "0"}
    code = "from aggregator.ingest.parse import fast; print(fast.ENABLED)"
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=root
    )
    assert done.stdout.strip() == "False"
