"""A normalised entry -> its post id and its content hash: what says "the same post".

What enters: the source id and the entry's link, guid, title, date and text (for the id), or
the post's fields (for the hash).  What leaves: ``"<source id>:<32 hex digits>"`` and a sha256
hex digest.  Both are stored: an id that changed would duplicate a post, a hash whose
definition changed would rewrite every post once.  Tests hold both definitions in place.

The hash has a speed path: ``_digest`` hashes the content's UTF-8 spliced between the encoded
fields around it instead of JSON-escaping it, when it needs no escaping.  Its reference is the
whole compact JSON text, hashed (``_whole_json_digest``); the switch is ``SPLICED_HASH``, False
when the environment sets ``AGGREGATOR_SPLICED_HASH=0``; the differential test is
``tests/test_identity.py``; figures in ``docs/performance.md``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import datetime

from aggregator.ingest.plaintext import fold
from aggregator.ingest.urls import identity_key
from aggregator.models import ParsedEntry, Post

__all__ = [
    "MATERIAL_ORDER",
    "SPLICED_HASH",
    "SWITCH_ENV",
    "content_hash",
    "post_hash",
    "post_id",
    "sane_guids",
]

#: Name of the environment variable that turns the spliced hash off when set to "0".
SWITCH_ENV = "AGGREGATOR_SPLICED_HASH"
#: The one switch: False hashes the whole JSON text every time (the reference).
SPLICED_HASH = os.environ.get(SWITCH_ENV, "1") != "0"


def post_id(
    source_id: str,
    *,
    link: str | None = None,
    guid: str | None = None,
    title: str = "",
    date: str = "",
    text: str = "",
) -> str:
    """Our stable id for a post: ``"<source id>:<32 hex digits>"``.

    The digest is taken over the source id and, in this order of preference:

    1. the entry's canonical ``link`` (scheme, ``www.`` and trailing slash left out), so that a
       publisher changing its guid scheme, or moving to https, does not make a second copy;
    2. else the ``guid`` (the caller passes only a sane one, see :func:`sane_guids`);
    3. else the title, the date text and, without a date, the start of the text.

    Callers pass ``link=None`` when the link cannot name one article (shared by several entries
    of the document, or the site's home page).  The publisher's guid is still kept in
    ``Post.guid``.
    """
    if link:
        material = f"link\n{source_id}\n{identity_key(link)}"
    elif guid:
        material = f"guid\n{source_id}\n{guid.strip()}"
    else:
        tail = "" if date else fold(text)[:300]
        material = f"hash\n{source_id}\n{fold(title)}\n{date}\n{tail}"
    digest = hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{source_id}:{digest[:32]}"


def sane_guids(entries: Sequence[ParsedEntry]) -> list[str | None]:
    """Each entry's guid when it can identify it: non-empty, at most 1000 characters, not a
    short bare number (generators number items by position, so "3" is reused), and not shared
    with another entry of the same document."""
    stripped = [(e.guid or "").strip() for e in entries]
    counts = Counter(stripped)
    out: list[str | None] = []
    for guid in stripped:
        bad = not guid or len(guid) > 1000 or (guid.isdigit() and len(guid) < 4)
        out.append(None if bad or counts[guid] > 1 else guid)
    return out


# --------------------------------------------------------------------------------------------
# The content hash

_HASHED_FIELDS = tuple(
    f.name
    for f in fields(Post)
    if f.name not in ("first_seen", "content_hash", "also_from", "undated")
)
# The order _material writes them in; a test holds it equal to _HASHED_FIELDS, so a field added
# to Post cannot be left out of the hash unnoticed.
MATERIAL_ORDER = (
    "id", "source_id", "guid", "title", "link", "published", "updated", "language", "excerpt",
    "content_html", "title_derived", "authors", "tags", "topics", "image", "translations",
)  # fmt: skip


# One encoder for every hash (json.dumps with options builds a new one per call).
_HASH_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _material(
    values: Mapping[str, object], stated_dates: tuple[datetime | None, datetime | None] | None
) -> list[object]:
    """The hashed fields as JSON-ready values: datetimes in ISO form, records as lists.

    Written out field by field rather than by a generic walk over the dataclass, which cost
    far more (docs/performance.md).  A date that only came from the first-seen fallback counts
    as unknown (see ``content_hash``).
    """
    stated = None if stated_dates is None else {d for d in stated_dates if d is not None}
    dates: list[str | None] = []
    for name in ("published", "updated"):
        value = values[name]
        assert isinstance(value, datetime)
        dates.append(None if stated is not None and value not in stated else value.isoformat())
    authors = values.get("authors", ())
    translations = values.get("translations", ())
    assert isinstance(authors, tuple)
    assert isinstance(translations, tuple)
    return [
        values["id"], values["source_id"], values["guid"], values["title"], values["link"],
        dates[0], dates[1], values["language"], values["excerpt"], values["content_html"],
        values.get("title_derived", False),
        [[a.name, a.affiliation, a.uri, a.email] for a in authors],
        list(values.get("tags", ())),  # type: ignore[call-overload]
        list(values.get("topics", ())),  # type: ignore[call-overload]
        values.get("image"),
        [[t.href, t.rel, t.type, t.hreflang, t.length] for t in translations],
    ]  # fmt: skip


_CONTENT = MATERIAL_ORDER.index("content_html")
# The bytes JSON writes as a \u00XX escape inside a string (ensure_ascii off): the C0 controls but
# tab, line feed and carriage return.  In UTF-8 they never occur inside a multi-byte
# character, so a byte search finds exactly them.
_JSON_U_ESCAPED = bytes(b for b in range(0x20) if b not in b"\t\n\r")
# What JSON writes for the other characters it escapes; the backslash first, so that the
# backslashes the others add are not doubled again.
_JSON_SHORT_ESCAPES = (
    (b"\\", b"\\\\"), (b'"', b'\\"'), (b"\n", b"\\n"), (b"\r", b"\\r"), (b"\t", b"\\t"),
)  # fmt: skip


def _digest(material: list[object]) -> str:
    """sha256 of the material's compact JSON.

    The content is most of the bytes.  Unless it holds a control character JSON writes as a
    ``\\u`` escape (and when ``SPLICED_HASH`` is on), its UTF-8 is escaped by byte replacement
    (quotes, which nearly every sanitized content holds in its attributes, backslashes, line
    breaks and tabs) and hashed between the encoded fields before and after it: the same bytes
    as the whole JSON text, without the encoder's walk over every character.
    """
    content = material[_CONTENT]
    if SPLICED_HASH and isinstance(content, str):
        raw = content.encode("utf-8", "surrogatepass")
        if len(raw.translate(None, _JSON_U_ESCAPED)) == len(raw):
            for char, escaped in _JSON_SHORT_ESCAPES:
                if char in raw:
                    raw = raw.replace(char, escaped)
            head = _HASH_JSON.encode(material[:_CONTENT])[:-1] + ',"'
            tail = '",' + _HASH_JSON.encode(material[_CONTENT + 1 :])[1:]
            digest = hashlib.sha256(head.encode("utf-8", "surrogatepass"))
            digest.update(raw)
            digest.update(tail.encode("utf-8", "surrogatepass"))
            return digest.hexdigest()
    return _whole_json_digest(material)


def _whole_json_digest(material: list[object]) -> str:
    """The reference: sha256 of the whole compact JSON text of the material."""
    blob = _HASH_JSON.encode(material)
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


def content_hash(
    post: Post, stated_dates: tuple[datetime | None, datetime | None] | None = None
) -> str:
    """sha256 over every normalised field except ``first_seen``, ``also_from`` (set later by
    dedupe) and the hash itself: an unchanged entry gives the same hash and is not rewritten.

    ``stated_dates`` are (published, updated) as far as the feed stated them; a date that
    only came from the first-seen fallback (missing, or clamped from the future) is hashed as
    unknown, so a dateless entry normalised without its stored ``first_seen`` still hashes the
    same from one cycle to the next.
    """
    values = {name: getattr(post, name) for name in MATERIAL_ORDER}
    return _digest(_material(values, stated_dates))


def post_hash(
    values: Mapping[str, object], stated_dates: tuple[datetime | None, datetime | None] | None
) -> str:
    """``content_hash`` of the post ``values`` describe, taken before the post is built (one
    construction instead of two)."""
    return _digest(_material(values, stated_dates))
