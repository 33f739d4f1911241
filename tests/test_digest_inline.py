"""The digest's CSS inlining is premailer's, only faster (``newsletter.render.inline_css``).

The stylesheet is read once per process, and its classes carry their element (``td.item``) so
that premailer's XPath queries test the name first.  Neither may change a byte of the email:
the stylesheet as written before (bare classes) and plain premailer must give the same HTML.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from premailer import Premailer

from aggregator.newsletter import render
from tests.test_digest import _render, make_post


def _plain_premailer(html: str) -> str:
    """``inline_css`` as it was: premailer itself, each email from scratch."""
    return str(Premailer(html, **render.PREMAILER_OPTIONS).transform(pretty_print=False))


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
    first = _render(tmp_path, posts, now).html
    again = _render(tmp_path, posts, now).html  # the stylesheet's rules from the cache
    assert first == again
    [(raw, inlined), (raw_again, inlined_again)] = captured
    assert raw == raw_again and inlined == inlined_again
    used = set(re.findall(r'class="([\w-]+)"', raw))
    assert {"item", "item-title", "tags", "excerpt", "meta", "footer"} <= used, used
    assert "td.item {" in raw and "\n.item {" not in raw.split("@media")[0]
    assert inlined == _plain_premailer(raw)
    assert _plain_premailer(_unqualified(raw)) == inlined  # qualified or not: the same styles
