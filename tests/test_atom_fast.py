"""The fast Atom entry writer against its reference: the same entries, the same documents.

``atom_fast.entry_xml`` (f-strings) is kept for speed beside ``atom.reference_entry`` (feedgen).
Both are parsed with lxml and compared element by element (tags, attributes, text, order);
only the whitespace between elements may differ.  Then a whole publish with the switch off must
give the same feeds, parsed, and every other output byte for byte.
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from lxml import etree

from aggregator.models import Author, Link, Post
from aggregator.publish import atom, atom_fast
from aggregator.publish.publisher import publish_all
from aggregator.publish.site import Site, load_site
from tests.test_publish import HOSTILE_TITLE, build, make_post

ATOM_NS = "http://www.w3.org/2005/Atom"
Canonical = tuple[str, tuple[tuple[str, str], ...], str, tuple[Any, ...]]


def canonical(element: etree._Element) -> Canonical:
    """What a parser sees of an element, without the indentation between elements."""
    text = element.text or ""
    if len(element):
        text = text.strip()  # whitespace between child elements only
    children = tuple(canonical(child) for child in element)
    return (element.tag, tuple(sorted(element.attrib.items())), text, children)


def parsed_entry(data: bytes) -> Canonical:
    """An entry as it reads under the feed element it is spliced into."""
    root = etree.fromstring(b'<feed xmlns="' + ATOM_NS.encode() + b'">' + data + b"</feed>")
    (entry,) = root
    return canonical(entry)


def both_writers(site: Site, post: Post) -> tuple[Canonical, Canonical]:
    fast = atom_fast.entry_xml(site, post).encode("utf-8")
    return parsed_entry(fast), parsed_entry(atom.reference_entry(site, post))


def hostile_posts() -> list[Post]:
    base = make_post(1)
    return [
        base,
        make_post(2, also_from=("uclg", "platforma", "cemr", "nobody")),
        replace(base, title=HOSTILE_TITLE, excerpt="a\r\nb\tc & <d> \"e\" 'f'", content_html=""),
        replace(base, content_html="", link=""),  # neither content nor link: text content
        replace(base, content_html="", link="javascript:alert(1)", excerpt=""),
        replace(base, content_html="  <p>x]]>y</p>\r\n  ", link='https://m.example/a?b=1&c="2"'),
        replace(base, language="en_GB", tags=("", " spaced  out ", "&amp; <tag>")),
        replace(base, language="fr-CA", topics=("resilience", "unknown-topic")),
        replace(
            base,
            translations=(
                Link("https://m.example/fr\tx", hreflang="fr"),
                Link("https://m.example/en", hreflang="en"),  # its own language: dropped
                Link("https://m.example/xx", hreflang="not a tag"),
                Link("file:///etc/passwd", hreflang="es"),
            ),
        ),
        replace(
            base,
            authors=(
                Author("A\x1bB", uri="https://a.example/\n"),
                Author("  "),
                Author("C", uri="javascript:x"),
            ),
        ),
        replace(base, title="", excerpt="", link="https://m.example/untitled"),
        replace(base, source_id="ghost"),  # a source no longer configured
        replace(base, authors=()),  # nobody signed: the organisation is the author
        replace(base, authors=(Author(" \x1b "),), source_id="ghost"),
        replace(base, language="es", tags=("Resiliencia", "Otra", "otra"), topics=("resilience",)),
    ]


@pytest.mark.parametrize("number", range(len(hostile_posts())))
def test_both_writers_give_the_same_entry(tmp_path: Path, now: datetime, number: int) -> None:
    settings, store = build(tmp_path, [make_post(n) for n in range(3)])
    site = load_site(store, settings, now)
    fast, reference = both_writers(site, hostile_posts()[number])
    assert fast == reference


TEXT = st.text(st.characters(exclude_categories=()), max_size=40)  # surrogates and controls too


@hypothesis_settings(max_examples=60, deadline=None)
@given(title=TEXT, excerpt=TEXT, content=TEXT, tag=TEXT, author=TEXT, link=TEXT)
def test_both_writers_agree_on_any_text(
    title: str, excerpt: str, content: str, tag: str, author: str, link: str
) -> None:
    settings, store = build(Path("/nonexistent"), [])
    site = load_site(store, settings, datetime.fromisoformat("2026-11-20T12:00:00+00:00"))
    post = make_post(
        4,
        title=title,
        excerpt=excerpt,
        content_html=content,
        tags=(tag,),
        authors=(Author(author, uri="https://a.example/" + link),),
        link="https://m.example/" + link,
    )
    fast, reference = both_writers(site, post)
    assert fast == reference


def test_a_publish_with_the_switch_off_gives_the_same_outputs(
    tmp_path: Path, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    posts = [make_post(n, also_from=("cemr",) if n % 4 == 0 else ()) for n in range(11)]
    posts[5] = replace(posts[5], title=HOSTILE_TITLE)
    fast_settings, store = build(tmp_path / "fast", posts, feed_entries=4)
    publish_all(store, fast_settings, now)
    monkeypatch.setattr(atom_fast, "ENABLED", False)
    slow_settings = build(tmp_path / "reference", posts, feed_entries=4)[0]
    publish_all(store, slow_settings, now)

    fast_out, slow_out = fast_settings.output_dir, slow_settings.output_dir
    names = sorted(p.relative_to(fast_out) for p in fast_out.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(slow_out) for p in slow_out.rglob("*") if p.is_file())
    atom_files = 0
    for name in names:
        if name.name.startswith(".") or name.suffix == ".gz":
            continue
        fast, slow = (fast_out / name).read_bytes(), (slow_out / name).read_bytes()
        if name.suffix == ".atom":
            atom_files += 1
            assert canonical(etree.fromstring(fast)) == canonical(etree.fromstring(slow)), name
        else:
            assert fast == slow, name
    assert atom_files >= 10

    # switching writers rebuilds every feed: the memo's salt knows which one wrote them
    monkeypatch.setattr(atom_fast, "ENABLED", True)
    rebuilt = publish_all(store, slow_settings, now)
    assert slow_out / "feed.atom" in rebuilt.written


def test_the_switch_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        monkeypatch.setenv(atom_fast.ENV_SWITCH, "0")
        assert importlib.reload(atom_fast).ENABLED is False
        monkeypatch.setenv(atom_fast.ENV_SWITCH, "1")
        assert importlib.reload(atom_fast).ENABLED is True
    finally:
        monkeypatch.delenv(atom_fast.ENV_SWITCH, raising=False)
        importlib.reload(atom_fast)
