"""The digest's CSS inlining is premailer's, only faster (``newsletter.render.inline_css``).

The stylesheet is read once per process, and its classes carry their element (``td.item``) so
that premailer's XPath queries test the name first.  Neither may change a byte of the email:
the stylesheet as written before (bare classes) and plain premailer must give the same HTML.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

import pytest
from premailer import Premailer

from aggregator.newsletter import render
from aggregator.newsletter.look import DigestLook
from aggregator.present.images import Stored
from tests.test_digest import SOURCES, make_post, make_settings


def _plain_premailer(html: str) -> str:
    """``inline_css`` as it was: premailer itself, each email from scratch, copying CSS
    floats of images into ``align`` as premailer does by default."""
    options = {**render.PREMAILER_OPTIONS, "align_floating_images": True}
    return str(Premailer(html, **options).transform(pretty_print=False))


def _unqualified(html: str) -> str:
    """The page's stylesheet with ``td.item`` written ``.item`` again (outside @media)."""
    head, style, tail = re.split(r"(?s)(<style>.*?</style>)", html, maxsplit=1)
    rules, media, rest = style.partition("@media")
    return head + re.sub(r"(?m)^[a-z0-9]+\.(?=[\w-])", ".", rules) + media + rest + tail


def test_inlining_gives_premailers_html_byte_for_byte(
    tmp_path: Path, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    posts = [
        replace(
            make_post(n, first_seen=now - timedelta(hours=n), topics=("climate",)),
            tags=("Climate", "Housing"),
            image=f"https://uclg.example.org/img/{n}.jpg" if n % 2 else None,
        )
        for n in range(12)
    ]
    captured: list[tuple[str, str]] = []
    original = render.inline_css

    def spy(html: str) -> str:
        inlined = original(html)
        captured.append((html, inlined))
        return inlined

    monkeypatch.setattr(render, "inline_css", spy)
    # the site's stored thumbnails of the odd posts' images
    look = DigestLook(
        images={
            p.image: Stored(f"{n:024x}", 800, 600, (160, 320))
            for n, p in enumerate(posts)
            if p.image
        }
    )
    settings = make_settings(tmp_path)

    def html() -> str:
        sources = {s.id: s for s in SOURCES}
        edition = settings.edition("weekly")
        return render.render_edition(settings, edition, posts, sources, date=now, look=look).html

    first = html()
    again = html()  # the stylesheet's rules from the cache
    assert first == again
    [(raw, inlined), (raw_again, inlined_again)] = captured
    assert raw == raw_again and inlined == inlined_again
    used = set(re.findall(r'class="([\w-]+)"', raw))
    assert {"item", "item-title", "tags", "excerpt", "meta", "footer"} <= used, used
    assert "td.item {" in raw and "\n.item {" not in raw.split("@media")[0]
    assert inlined.count("<img ") >= 7  # the logo and six thumbnails, all styled
    assert inlined == _plain_premailer(raw)
    assert _plain_premailer(_unqualified(raw)) == inlined  # qualified or not: the same styles


def _edition(tmp_path: Path, now: datetime, count: int) -> list[Any]:
    """``count`` posts of three members, some titles long, excerpts of 60 to 600 characters,
    every third with a thumbnail: an edition that crosses Gmail's clip somewhere."""
    words = "Cities & regions share what works: housing, climate, water, “transport”. "
    posts = []
    for n in range(count):
        source = ("uclg", "cemr", "platforma")[n % 3]
        title = f"Post {n}: " + ("a long title about local finance " * (n % 4)) + "<budget>"
        excerpt = words * (1 + n % 8)
        post = make_post(n, first_seen=now - timedelta(hours=n), source=source, title=title,
                         excerpt=excerpt, topics=("climate",) if n % 2 else ())  # fmt: skip
        posts.append(
            replace(post, image=f"https://{source}.example.org/{n}.jpg" if n % 3 == 0 else None)
        )
    return posts


def _render_all(tmp_path: Path, now: datetime, posts: list[Any], clip: int) -> Any:
    settings = make_settings(tmp_path)
    look = DigestLook(
        images={
            p.image: Stored(f"{i:024x}", 640, 480, (160,)) for i, p in enumerate(posts) if p.image
        }
    )
    sources = {s.id: s for s in SOURCES}
    edition = settings.edition("weekly")
    return render.render_edition(
        settings, edition, posts, sources, date=now, look=look, clip_bytes=clip
    )


@pytest.mark.parametrize("count", [1, 7, 40, 120])
@pytest.mark.parametrize("clip", [12_000, 30_000, 60_000, 100_000])
def test_inlining_only_the_items_that_can_fit_changes_no_byte(
    tmp_path: Path, now: datetime, monkeypatch: pytest.MonkeyPatch, count: int, clip: int
) -> None:
    """Premailer styles the items that may fit under the clip, not the ones moved to the site;
    the email, its text part, its notes and its posts are those of inlining everything, whatever
    the first guess (too few items, just enough, too many)."""
    posts = _edition(tmp_path, now, count)
    inlined: list[int] = []
    original = render.inline_css

    def counting(html: str) -> str:
        inlined.append(html.count("<!--i:"))
        return original(html)

    monkeypatch.setattr(render, "inline_css", counting)
    chosen = _render_all(tmp_path, now, posts, clip)
    first = list(inlined)
    monkeypatch.setattr(render, "_first_guess", lambda raw, n, budget: n)
    inlined.clear()
    everything = _render_all(tmp_path, now, posts, clip)
    assert inlined == [count]
    assert chosen == everything
    kept = len(everything.post_ids)
    if kept < count // 2:  # most items move to the site: premailer styled fewer in all
        assert sum(first) < count and len(first) <= 2, (first, kept)
    for wrong in (0, 1, kept, kept + 1, count - 1):
        monkeypatch.setattr(render, "_first_guess", lambda raw, n, budget, g=wrong: g)
        assert _render_all(tmp_path, now, posts, clip) == everything, wrong


def test_the_stylesheet_styles_an_item_by_its_ancestors_only() -> None:
    """What lets premailer skip the items that move to the site (``render._inline_within``):
    no rule outside ``@media`` depends on an element's siblings or position."""
    template = (Path(__file__).parents[1] / "templates" / "digest.html").read_text()
    style = template.split("<style>", 1)[1].split("</style>", 1)[0].split("@media", 1)[0]
    style = re.sub(r"\{\{.*?\}\}", "#000", style)  # the colours jinja writes in
    selectors = [rule.split("{", 1)[0].strip() for rule in style.split("}") if "{" in rule]
    assert len(selectors) > 30 and "td.item" in selectors
    for selector in selectors:
        assert not re.search(r"[+~>]|:(first|last|nth|only)-", selector), selector


def test_a_members_text_cannot_pass_for_a_marker(
    tmp_path: Path, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An image's alt text reaches the inlined email with its "<" as it is: one reading
    "<!--/i-->" must neither cut an item short nor change which items fit."""
    forged = "<!--/i--> <!--/e--> <!--/s--> <!--i:0--> photo"
    posts = [
        replace(
            post,
            image=f"{n}.jpg",
            content_html=f'<p><img src="{n}.jpg" alt="{escape(forged)}"></p>',
        )
        for n, post in enumerate(_edition(tmp_path, now, 40))
    ]
    chosen = _render_all(tmp_path, now, posts, 30_000)
    monkeypatch.setattr(render, "_first_guess", lambda raw, n, budget: n)
    assert _render_all(tmp_path, now, posts, 30_000) == chosen
    kept = len(chosen.post_ids)
    assert 0 < kept < 40
    assert chosen.html.count("photo") == sum(1 for p in posts[:kept] if p.image) > 0
    assert render.MARK not in chosen.html
