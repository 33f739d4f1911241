"""identity.py: post ids and the content hash keep their definitions across releases.

Stored ids and hashes stay valid only if these never change.  The hash has a speed path (the
content spliced in as UTF-8 instead of JSON-escaped, ``identity.SPLICED_HASH``); the
differential tests here hold it equal to its reference, the whole JSON text hashed, and to the
hash as first defined.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.ingest import identity
from aggregator.ingest.identity import content_hash
from aggregator.ingest.normalise import normalise
from aggregator.models import Author, Link, ParsedEntry, ParsedFeed, Post, Source

ROOT = Path(__file__).resolve().parent.parent


def _reference_hash(post: Post, stated: tuple[datetime | None, datetime | None] | None) -> str:
    """The hash as first defined: every field but four, walked generically, JSON, sha256."""

    def plain(value: object) -> object:
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        if isinstance(value, (Author, Link)):
            return [getattr(value, f.name) for f in fields(value)]
        if isinstance(value, datetime):
            return value.isoformat()
        return value

    skipped = ("first_seen", "content_hash", "also_from", "undated")
    names = [f.name for f in fields(Post) if f.name not in skipped]
    values = [plain(getattr(post, name)) for name in names]
    if stated is not None:
        known = {d for d in stated if d is not None}
        for i, name in enumerate(names):
            if name in ("published", "updated") and getattr(post, name) not in known:
                values[i] = None
    blob = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


def test_the_hashed_fields_are_every_field_but_four() -> None:
    assert identity.MATERIAL_ORDER == identity._HASHED_FIELDS


def test_content_hash_is_unchanged_by_its_faster_form() -> None:
    when = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    post = Post(
        id="s:1", source_id="s", guid="g-1", title="Résilience urbaine", link="https://a.example/1",
        published=when, updated=when + timedelta(hours=2), first_seen=when,
        language="fr", excerpt="Les villes…", content_html="<p>Les villes « résilientes »</p>",
        title_derived=True, authors=(Author("Ana Ruiz", "UCLG", None, "ana@example.org"),),
        tags=("Résilience", "Resiliencia"), topics=("resilience",), image="https://a.example/i.jpg",
        translations=(Link("https://a.example/es/1", "alternate", "text/html", "es", None),),
    )  # fmt: skip
    for stated in (None, (when, None), (None, None), (when, when + timedelta(hours=2))):
        assert content_hash(post, stated) == _reference_hash(post, stated)


def test_normalised_posts_carry_the_reference_hash() -> None:
    feed = ParsedFeed(
        url="https://a.example/feed",
        format="atom10",
        entries=(
            ParsedEntry(guid="1", link="https://a.example/1", title="Dated", summary="<p>x</p>",
                        published=datetime(2026, 3, 1, tzinfo=UTC)),
            ParsedEntry(guid="2", link="https://a.example/2", title="Undated", content="<p>y</p>",
                        authors=(Author("Ana Ruiz"),), tags=("Climate",)),
        ),
    )  # fmt: skip
    source = Source(id="s", name="S", organisation="O", url="https://a.example/feed")
    for post in normalise(feed, source, datetime(2026, 3, 2, tzinfo=UTC)):
        stated_options = [(post.published, None), (None, None)]
        assert post.content_hash in {_reference_hash(post, s) for s in stated_options}


@settings(max_examples=300, deadline=None)
@given(
    content=st.text(
        alphabet=st.one_of(st.sampled_from('ab<p>é"\\\n\r\t\x01\x1f\u2028\ud800'), st.characters()),
        max_size=400,
    ),
    title=st.text(max_size=40),
)
def test_property_the_spliced_digest_is_the_whole_jsons(content: str, title: str) -> None:
    when = datetime(2026, 3, 1, tzinfo=UTC)
    values = {
        "id": "s:1", "source_id": "s", "guid": None, "title": title, "link": "https://a.example/1",
        "published": when, "updated": when, "language": "fr", "excerpt": "e",
        "content_html": content, "authors": (Author("Ana", None, None, None),), "tags": ("x",),
    }  # fmt: skip
    material = identity._material(values, None)
    whole = json.dumps(material, ensure_ascii=False, separators=(",", ":"))
    expected = hashlib.sha256(whole.encode("utf-8", "surrogatepass")).hexdigest()
    assert identity._digest(material) == expected


def test_posts_hash_the_same_with_the_spliced_hash_switched_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    feed = ParsedFeed(
        url="https://a.example/feed",
        format="rss20",
        entries=tuple(
            ParsedEntry(guid=str(i), link=f"https://a.example/{i}", title=f"Post {i}",
                        content=content, published=datetime(2026, 3, 1, tzinfo=UTC))
            for i, content in enumerate(['<p>plain</p>', '<p>a "quote" and \\\\</p>', "<p>é\n</p>"])
        ),
    )  # fmt: skip
    source = Source(id="s", name="S", organisation="O", url="https://a.example/feed")
    now = datetime(2026, 3, 2, tzinfo=UTC)
    spliced = normalise(feed, source, now)
    monkeypatch.setattr(identity, "SPLICED_HASH", False)
    assert normalise(feed, source, now) == spliced


def test_the_environment_switches_the_spliced_hash_off() -> None:
    env = {**os.environ, identity.SWITCH_ENV: "0"}
    code = "from aggregator.ingest import identity; print(identity.SPLICED_HASH)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=ROOT
    )
    assert done.stdout.strip() == "False"
