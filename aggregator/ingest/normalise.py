"""``ParsedFeed`` -> ``[Post]``: every field rule of the blog model, in one documented order.

The listing pages in ``shared/seeds`` show what real entries look like: titles, tags or dates
missing, bylines inside the text, three languages in one feed, bilingual tags.  Each rule below
is a small pure function whose docstring says what it decides and why; :func:`normalise` applies
them in this order:

1. base URL (``xml:base`` of the entry, else the document's URL) and the entry's own link;
2. the plain text (summary, else content) and a leading byline taken out of it;
3. title (or one derived from the text), then the post id (:func:`post_id`);
4. first seen, dates, authors, tags and topics, language;
5. sanitized content, image, translations, excerpt; last the content hash.

Nothing here reads the clock or the network: ``now`` and the stored ``first_seen`` values come
in as arguments, so the same input always gives the same posts.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache

from aggregator.dedupe import strip_accents
from aggregator.ingest.language import MIN_CONFIDENCE, detect_with_confidence, normalise_tag
from aggregator.ingest.sanitize import (
    blocks_of,
    clean_text,
    decode_entities,
    excerpt_of_blocks,
    html_to_blocks,
    html_to_text,
    prepare_markup,
    sanitize_prepared,
    truncate,
)
from aggregator.ingest.urls import absolute_url, canonicalize, identity_key, is_web_url
from aggregator.models import Author, Link, ParsedEntry, ParsedFeed, Post, Source

TITLE_LIMIT = 300
DERIVED_TITLE_LIMIT = 90
EXCERPT_LIMIT = 300
FUTURE_TOLERANCE = timedelta(minutes=10)
OLDEST_PLAUSIBLE = datetime(1990, 1, 1, tzinfo=UTC)  # earlier: a zero or epoch default
MAX_TAGS = 30
MAX_TAG_CHARS = 80
MAX_AUTHORS = 12
# Declared feed-wide languages are often a CMS default; detection overrides one only when it
# is this sure (see choose_language).
OVERRIDE_CONFIDENCE = 0.95
OVERRIDE_MIN_LETTERS = 40


# --------------------------------------------------------------------------------------------
# Text helpers


@lru_cache(maxsize=4096)  # pure, and tags recur across a whole network's posts
def fold(label: str) -> str:
    """Compare labels without case or accents: "Résilience" and "resilience" are one tag."""
    return " ".join(strip_accents(label).casefold().split())


def plain(value: str | None) -> str:
    """One line of plain text from a feed string that may hold markup and entities."""
    if not value:
        return ""
    if "<" in value or "&" in value:
        return clean_text(decode_entities(html_to_text(value)))
    return clean_text(value)


def clean_title(raw: str | None) -> str:
    """Entities decoded (twice when double-escaped), markup stripped, whitespace collapsed,
    control characters removed, and at most ``TITLE_LIMIT`` characters cut at a word."""
    return truncate(plain(raw), TITLE_LIMIT)


_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”»’)]*\s+(?=[\"“«¿¡(]?[A-ZÀ-ÖØ-Þ0-9])")


def derive_title(text: str) -> str:
    """A title from the first sentence of ``text`` (the byline already removed).

    At most ``DERIVED_TITLE_LIMIT`` characters, cut at a word; a final full stop is dropped
    because titles do not carry one.
    """
    first_line = text.split("\n", 1)[0].strip()
    sentence = _SENTENCE_END.split(first_line, maxsplit=1)[0].strip()
    sentence = " ".join(sentence.split())
    if sentence.endswith(".") and not sentence.endswith(".."):
        sentence = sentence[:-1].rstrip()
    return truncate(sentence, DERIVED_TITLE_LIMIT)


def title_from_link(link: str | None) -> str:
    """Last resort for an entry with neither title nor text: the link's slug, readable."""
    if not link:
        return ""
    slug = link.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
    slug = re.sub(r"\.(html?|php|aspx?)$", "", slug)
    words = re.sub(r"[-_+]+", " ", slug).strip()
    if not words or words.isdigit():
        return ""
    return truncate(words[:1].upper() + words[1:], DERIVED_TITLE_LIMIT)


# --------------------------------------------------------------------------------------------
# Bylines


_BYLINE_START = re.compile(
    r"^\s*(?:(?:written\s+)?by|par|por|per|(?:author|autor|autora|auteur|auteure)\s*:)\s*:?\s+",
    re.IGNORECASE,
)
_PARTICLES = frozenset(
    {"de", "del", "della", "der", "den", "van", "von", "da", "di", "du", "la", "le", "dos",
     "das", "e", "y", "i", "bin", "al", "el", "ter", "of", "for", "and", "at", "the", "et",
     "en", "des", "on", "in", "d'", "l'"}
)  # fmt: skip
_ABBREVIATIONS = frozenset(
    {"dr", "mr", "mrs", "ms", "prof", "st", "jr", "sr", "sra", "dra", "mme", "mlle", "m",
     "pr", "inc", "ltd", "co", "no", "vs", "ph.d", "h.e"}
)  # fmt: skip
# Words that make a comma-separated part of a byline an affiliation, not another person.
_ROLE_WORDS = frozenset(
    {"mayor", "maire", "alcalde", "alcaldesa", "president", "président", "presidente",
     "présidente", "vice-president", "vice-président", "vicepresidente", "ceo", "director",
     "directora", "directeur", "directrice", "secretary", "secretaria", "secrétaire", "officer",
     "manager", "manaher", "head", "chair", "coordinator", "coordinadora", "coordinateur",
     "coordinatrice", "advisor", "adviser", "conseiller", "conseillère", "consejero",
     "consejera", "researcher", "professor", "profesor", "profesora", "deputy", "councillor",
     "councilor", "concejal", "concejala", "minister", "ministre", "ministro", "ambassador",
     "expert", "specialist", "team", "department", "unit", "association", "network", "city",
     "ville", "ciudad", "council", "government", "governments", "municipality", "office",
     "programme", "program", "project", "uclg", "cglu", "cemr", "platforma", "communication",
     "communications", "journalist", "editor", "founder", "member", "staff", "general",
     "spokesperson", "portavoz", "officer,", "university", "université", "universidad"}
)  # fmt: skip
_DASHES = ("–", "—", "-")
_DASH_SPLIT = re.compile(r"\s+[–—-]\s+")
_AND_SPLIT = re.compile(r"\s+(?:and|et|y|e|&)\s+")
_MAX_BYLINE_CHARS = 300


def _core(token: str) -> str:
    return token.strip(",;:.()“”\"'«»")


def _is_titlecase(token: str) -> bool:
    core = _core(token)
    return bool(core) and core[0].isupper() and any(ch.islower() for ch in core)


def _is_lower_word(token: str) -> bool:
    core = _core(token)
    return bool(core) and core[0].islower() and core.casefold() not in _PARTICLES


def _is_sentence_end(token: str) -> bool:
    if not token.endswith("."):
        return False
    core = token.rstrip(".").strip(",;:()“”\"'«»")
    return len(core) > 1 and core.casefold() not in _ABBREVIATIONS and "." not in core


def _byline_end(tokens: list[str]) -> tuple[int, int]:
    """Where the byline in ``tokens`` stops: (tokens in the byline, index the text resumes).

    A byline stops at a full stop that is not an initial or an abbreviation, or before a
    capitalised word followed by an ordinary lower-case word ("… CEO VVSG For many
    municipalities"), except at the start of a comma-separated part, where such a pair
    begins an affiliation ("…, Policy officer at UCLG").
    """
    part_start = True
    for i, token in enumerate(tokens):
        if _is_sentence_end(token):
            return i + 1, i + 1
        next_lower = i + 1 < len(tokens) and _is_lower_word(tokens[i + 1])
        plain_word = not token.endswith((",", ";", ":", ")"))
        if not part_start and plain_word and _is_titlecase(token) and next_lower:
            return i, i
        part_start = token.endswith((",", ";")) or token in _DASHES
    return len(tokens), len(tokens)


def _looks_like_name(part: str) -> bool:
    tokens = part.split()
    if not 1 <= len(tokens) <= 5:
        return False
    for i, token in enumerate(tokens):
        core = _core(token)
        low = core.casefold()
        if low in _ROLE_WORDS:
            return False
        is_initial = len(core) <= 2 and core[:1].isupper()
        is_particle = low in _PARTICLES and i > 0
        if not (_is_titlecase(core) or is_initial or is_particle):
            return False
    return True


def _authors_from_byline(byline: str) -> tuple[Author, ...]:
    authors: list[Author] = []
    for raw_part in re.split(r"\s*[,;]\s*", byline.strip().rstrip(".")):
        part = raw_part.strip()
        if not part:
            continue
        pieces = _DASH_SPLIT.split(part, maxsplit=1)
        names = _AND_SPLIT.split(pieces[0])
        if len(pieces) == 2 and all(_looks_like_name(n) for n in names):
            affiliation = pieces[1].strip() or None
            authors.extend(Author(name=n.strip(), affiliation=affiliation) for n in names)
            continue
        names = _AND_SPLIT.split(part)
        if all(_looks_like_name(n) for n in names):
            authors.extend(Author(name=n.strip()) for n in names)
        elif authors:
            last = authors[-1]
            aff = f"{last.affiliation}, {part}" if last.affiliation else part
            authors[-1] = replace(last, affiliation=aff)
        else:
            return ()
    return tuple(authors[:MAX_AUTHORS])


def split_byline(text: str) -> tuple[tuple[Author, ...], str]:
    """Find a byline at the start of ``text`` and return (its authors, the text without it).

    Handles the forms the seeds show: "By A – Org, B – Org, C - Org.", "by: A, B, C",
    "By X, UCLG communication officer", "By Flore Thoreau La Salle, Project Manager of … Une
    rencontre…", and "Par …" / "Por …".  ``text`` has one line per paragraph; a byline never
    runs past its line.  When the start does not look like a person ("By 2030, cities…",
    "Por último…"), nothing is taken.
    """
    match = _BYLINE_START.match(text)
    if match is None:
        return (), text
    line, newline, rest = text[match.end() :].partition("\n")
    tokens = line.split()
    if not tokens or not (_is_titlecase(tokens[0]) or len(_core(tokens[0])) == 1):
        return (), text
    used, resume = _byline_end(tokens)
    byline = " ".join(tokens[:used])
    if not byline or len(byline) > _MAX_BYLINE_CHARS:
        return (), text
    if resume == len(tokens) and not newline and len(line) > 120:
        return (), text  # one long paragraph with no visible end: not sure it is a byline
    authors = _authors_from_byline(byline)
    if not authors:
        return (), text
    remainder = " ".join(tokens[resume:])
    body = f"{remainder}\n{rest}" if remainder and rest else remainder or rest
    return authors, body.strip()


# --------------------------------------------------------------------------------------------
# Authors

_EMAIL_NAME = re.compile(r"^\s*(\S+@\S+)\s*\((.+)\)\s*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_GENERIC_ACCOUNTS = frozenset(
    {"admin", "administrator", "administrateur", "administrador", "webmaster", "editor",
     "wordpress", "root", "user", "unknown", "anonymous", "author"}
)  # fmt: skip


def clean_authors(authors: Iterable[Author]) -> tuple[Author, ...]:
    """Names as plain text, RSS's "mail@host (Name)" split, bare addresses and CMS accounts
    ("admin") dropped (they are not bylines and must not be mailed to every subscriber),
    duplicates removed."""
    seen: set[str] = set()
    out: list[Author] = []
    for author in authors:
        name = plain(author.name)
        email = author.email.strip() if author.email and _EMAIL.match(author.email) else None
        paired = _EMAIL_NAME.match(name)
        if paired:
            email, name = email or paired.group(1), paired.group(2).strip()
        if not name or _EMAIL.match(name) or fold(name) in _GENERIC_ACCOUNTS:
            continue
        key = fold(name)
        if key in seen:
            continue
        seen.add(key)
        affiliation = plain(author.affiliation) or None
        uri = absolute_url(author.uri) if author.uri else None
        out.append(Author(name=truncate(name, 120), affiliation=affiliation, uri=uri, email=email))
    return tuple(out[:MAX_AUTHORS])


def choose_authors(
    entry_authors: tuple[Author, ...],
    byline_authors: tuple[Author, ...],
    feed_authors: tuple[Author, ...],
) -> tuple[Author, ...]:
    """The entry's authors, else the byline's, else the feed's.

    The byline comes before the feed's authors (a deliberate change from "feed then byline"):
    a feed-level author is only the default every entry inherits (often the organisation),
    while a byline names the people who wrote this post.
    """
    return clean_authors(entry_authors) or byline_authors or clean_authors(feed_authors)


# --------------------------------------------------------------------------------------------
# Tags and topics

_NOT_TAGS = frozenset(
    {"uncategorized", "uncategorised", "non classe", "sin categoria", "sem categoria",
     "senza categoria", "general", "news"}
)  # fmt: skip


def clean_tags(raw: Iterable[str]) -> tuple[str, ...]:
    """Publisher labels: split on commas, plain text, trimmed, deduplicated without case or
    accents (the first spelling is kept), CMS defaults such as "Uncategorized" dropped.

    The source's own ``tags`` from ``feeds.yaml`` are *not* added: they describe the member,
    stay on ``Source`` and can be joined through ``source_id``; posts carry what the publisher
    wrote so that the tag line reads like the seeds' "Résilience, Resiliencia".
    """
    seen: set[str] = set()
    tags: list[str] = []
    for value in raw:
        for piece in (value or "").split(","):
            label = plain(piece).strip(" #-–|/")
            key = fold(label)
            if not label or len(label) > MAX_TAG_CHARS or key in seen or key in _NOT_TAGS:
                continue
            seen.add(key)
            tags.append(label)
    return tuple(tags[:MAX_TAGS])


def topic_index(topics: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """Folded label -> topic keys; a topic's key counts as one of its own labels."""
    index: dict[str, list[str]] = {}
    for key, labels in topics.items():
        for label in (key, *labels):
            folded = fold(label)
            if folded and key not in index.setdefault(folded, []):
                index[folded].append(key)
    return {k: tuple(v) for k, v in index.items()}


def match_topics(
    tags: Sequence[str], index: Mapping[str, Sequence[str]], order: Sequence[str]
) -> tuple[str, ...]:
    """Topic keys whose labels equal one of ``tags`` without case or accents, in config order."""
    found = {key for tag in tags for key in index.get(fold(tag), ())}
    return tuple(key for key in order if key in found)


# --------------------------------------------------------------------------------------------
# Dates

_DMY = re.compile(
    r"^\s*(\d{1,2})[./-](\d{1,2})[./-](\d{4}|\d{2})(?:[ T,]+(\d{1,2})[:h](\d{2})(?::(\d{2}))?)?\s*$"
)
_YMD = re.compile(
    r"^\s*(\d{4})[./-](\d{1,2})[./-](\d{1,2})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*$"
)


def _build(y: int, mo: int, d: int, h: str | None, mi: str | None, s: str | None) -> datetime:
    return datetime(y, mo, d, int(h or 0), int(mi or 0), int(s or 0), tzinfo=UTC)


def parse_raw_date(raw: str | None, day_first: bool) -> datetime | None:
    """Read a date the parser could not, or misread: "25/03/2022", "2016/6/29", RFC 822, ISO.

    Numeric d/m/y is read day-first when the source says so (or when the first number cannot
    be a month); a two-digit year is 19xx from 70 on, else 20xx.  Impossible dates give
    ``None``, never an exception.
    """
    if not raw or len(raw) > 80:
        return None
    try:
        if m := _YMD.match(raw):
            y, mo, d = int(m[1]), int(m[2]), int(m[3])
            return _build(y, mo, d, m[4], m[5], m[6])
        if m := _DMY.match(raw):
            a, b, y = int(m[1]), int(m[2]), int(m[3])
            if y < 100:
                y += 1900 if y >= 70 else 2000
            day, month = (a, b) if day_first or a > 12 else (b, a)
            return _build(y, month, day, m[4], m[5], m[6])
        try:
            parsed = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            parsed = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        return as_utc(parsed)
    except (ValueError, OverflowError, TypeError):
        return None


def as_utc(value: datetime | None) -> datetime | None:
    """Aware UTC; a naive value is taken as UTC; implausibly old values count as missing."""
    if value is None:
        return None
    try:
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return aware if aware >= OLDEST_PLAUSIBLE else None


def entry_date(parsed: datetime | None, raw: str | None, day_first: bool) -> datetime | None:
    """The parser's date, except that a numeric raw form we read better wins.

    feedparser misreads "2016/6/29" and cannot know that "03/11/2020" is day-first, so for
    those forms (and a day-first source) the raw text is read here instead.
    """
    if raw and (_YMD.match(raw) or (_DMY.match(raw) and (day_first or parsed is None))):
        from_raw = as_utc(parse_raw_date(raw, day_first))
        if from_raw is not None:
            return from_raw
    return as_utc(parsed) or (as_utc(parse_raw_date(raw, day_first)) if raw else None)


def choose_dates(
    published: datetime | None, updated: datetime | None, first_seen: datetime, now: datetime
) -> tuple[datetime, datetime]:
    """(published, updated): missing published -> updated -> first seen; a date more than
    ``FUTURE_TOLERANCE`` ahead of ``now`` is clamped to first seen (a post "from next year"
    would otherwise stay on top of every page); updated is never before published."""
    limit = now + FUTURE_TOLERANCE
    pub = published or updated or first_seen
    if pub > limit:
        pub = first_seen
    upd = updated or pub
    if upd > limit:
        upd = max(first_seen, pub)
    return pub, max(upd, pub)


# --------------------------------------------------------------------------------------------
# Identity


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
# Links, images, translations

_IMAGE_EXT = re.compile(r"\.(?:jpe?g|png|gif|webp|avif)(?:$|\?)", re.IGNORECASE)
_FIRST_IMG = re.compile(r'<img\b[^>]*?\bsrc="([^"]+)"')


def entry_base(entry: ParsedEntry, feed: ParsedFeed) -> str | None:
    """The URL relative references resolve against: the entry's xml:base, else the document's."""
    doc = absolute_url(feed.url)
    return absolute_url(entry.base, doc) or doc


def own_link(entry: ParsedEntry, base: str | None) -> str | None:
    """The entry's canonical link, else its first plain alternate link (no hreflang)."""
    link = canonicalize(entry.link, base)
    if link:
        return link
    for candidate in entry.links:
        if candidate.rel == "alternate" and not candidate.hreflang:
            found = canonicalize(candidate.href, base)
            if found:
                return found
    return None


def fallback_link(entry: ParsedEntry, source: Source, feed: ParsedFeed) -> str:
    """Where a post without a usable link points: its guid when that is a web URL, else the
    source's home page, the feed's site link, or the feed itself."""
    if entry.guid and is_web_url(entry.guid.strip()):
        guid_link = canonicalize(entry.guid)
        if guid_link:
            return guid_link
    for candidate in (source.homepage, feed.link, source.url):
        link = canonicalize(candidate, feed.url)
        if link:
            return link
    return source.url


def pick_image(entry: ParsedEntry, base: str | None, content_html: str) -> str | None:
    """Lead image: the entry's media images, an image enclosure, or the first ``<img>`` of the
    sanitized content (already absolute, lazy-loading resolved and pixels removed)."""
    for url in entry.images:
        found = absolute_url(url, base)
        if found:
            return found
    for link in entry.links:
        is_image = (link.type or "").startswith("image/") or (
            link.rel == "enclosure" and not link.type and _IMAGE_EXT.search(link.href or "")
        )
        if is_image:
            found = absolute_url(link.href, base)
            if found:
                return found
    match = _FIRST_IMG.search(content_html) if "<img" in content_html else None
    if match:
        return absolute_url(html.unescape(match.group(1)))
    return None


def translations(entry: ParsedEntry, base: str | None, link: str) -> tuple[Link, ...]:
    """Alternates with an ``hreflang``: the same post in other languages, canonical links."""
    seen = {link}
    out: list[Link] = []
    for candidate in entry.links:
        lang = normalise_tag(candidate.hreflang)
        if candidate.rel != "alternate" or not lang:
            continue
        href = canonicalize(candidate.href, base)
        if href and href not in seen:
            seen.add(href)
            out.append(Link(href=href, rel="alternate", type=candidate.type, hreflang=lang))
    return tuple(out)


# --------------------------------------------------------------------------------------------
# Language


def choose_language(
    entry_lang: str | None,
    feed_lang: str | None,
    text: str,
    languages: Sequence[str],
    source_lang: str,
) -> str:
    """The post's language: the lower-case primary subtag ("en-GB" -> "en"), in any language.

    In order: the entry's own declaration; a declaration in a language the site does not
    publish (the feed's, else the source's setting), which no detection overrides; detection
    among every language the model knows, when sure; the feed's declaration; the source's.

    A feed-wide declaration of a site language loses to detection only when detection is very
    sure (``OVERRIDE_CONFIDENCE``, ``OVERRIDE_MIN_LETTERS``): multilingual blogs such as the
    seeds' declare one language for all their posts, and a CMS default declares English for a
    Portuguese blog.  An entry language equal to the feed's counts as the feed's: parsers copy
    the channel's ``<language>`` onto every item, so it says nothing about this entry.
    """
    declared = normalise_tag(entry_lang)
    feed_declared = normalise_tag(feed_lang)
    if declared and declared != feed_declared:
        return declared
    site = {normalise_tag(code) for code in languages}
    configured = normalise_tag(source_lang)
    feed_declared = feed_declared or declared
    if feed_declared is None and configured not in site:
        feed_declared = configured  # an operator's statement outside the site: a declaration
    if feed_declared and feed_declared not in site:
        return feed_declared
    detected, confidence = detect_with_confidence(text, languages)
    if feed_declared:
        letters = sum(map(str.isalpha, text))
        strong = confidence >= OVERRIDE_CONFIDENCE and letters >= OVERRIDE_MIN_LETTERS
        return detected if detected and strong else feed_declared
    if detected and confidence >= MIN_CONFIDENCE:
        return detected
    return configured or "en"


# --------------------------------------------------------------------------------------------
# Hash and assembly


_HASHED_FIELDS = tuple(
    f.name for f in fields(Post) if f.name not in ("first_seen", "content_hash", "also_from")
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

    Written out field by field because a generic walk over the dataclass was a tenth of a
    post's normalising time.  A date that only came from the first-seen fallback counts as
    unknown (see ``content_hash``).
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
# The bytes JSON escapes inside a string (ensure_ascii off): quote, backslash, C0 controls.  In
# UTF-8 they never occur inside a multi-byte character, so a byte search finds exactly them.
_JSON_ESCAPED_BYTES = bytes([*range(0x20), ord('"'), ord("\\")])


def _digest(material: list[object]) -> str:
    """sha256 of the material's compact JSON.

    The content is most of the bytes and rarely needs escaping; when it needs none, its UTF-8
    is hashed as it is between the encoded fields before and after it: the same bytes as the
    whole JSON text, without the encoder's per-character string escaping (half the cost).
    """
    content = material[_CONTENT]
    if isinstance(content, str):
        raw = content.encode("utf-8", "surrogatepass")
        if len(raw.translate(None, _JSON_ESCAPED_BYTES)) == len(raw):
            head = _HASH_JSON.encode(material[:_CONTENT])[:-1] + ',"'
            tail = '",' + _HASH_JSON.encode(material[_CONTENT + 1 :])[1:]
            digest = hashlib.sha256(head.encode("utf-8", "surrogatepass"))
            digest.update(raw)
            digest.update(tail.encode("utf-8", "surrogatepass"))
            return digest.hexdigest()
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


@dataclass(frozen=True, slots=True)
class _Context:
    source: Source
    feed: ParsedFeed
    now: datetime
    languages: tuple[str, ...]
    topics_index: dict[str, tuple[str, ...]]
    topic_order: tuple[str, ...]
    known_first_seen: Mapping[str, datetime]


def _texts(entry: ParsedEntry, prepared: str, content_html: str) -> tuple[tuple[Author, ...], str]:
    """The byline's authors and the entry's plain text (summary, else content) without it.

    ``content_html`` is the sanitized content (else summary) and ``prepared`` the markup it was
    sanitized from: the text is read from it rather than from a second parse of that markup.
    """
    summary, content = entry.summary, entry.content
    blocks = html_to_blocks(summary) if summary and content else ""
    if not blocks:
        blocks = blocks_of(prepared, content_html)
    return split_byline(blocks)


def _date_text(entry: ParsedEntry) -> str:
    for value in (entry.published, entry.updated):
        if value is not None:
            return value.isoformat()
    return (entry.published_raw or entry.updated_raw or "").strip()


def _one(
    entry: ParsedEntry,
    base: str | None,
    link: str | None,
    link_ok: bool,
    guid: str | None,
    ctx: _Context,
) -> Post:
    source, feed = ctx.source, ctx.feed
    prepared = prepare_markup(entry.content or entry.summary or "")
    content_html = sanitize_prepared(prepared, base)
    byline_authors, body = _texts(entry, prepared, content_html)
    title = clean_title(entry.title)
    derived = not title
    if derived:
        title = derive_title(body) or title_from_link(link) or source.name
    pid = post_id(
        source.id,
        link=link if link_ok else None,
        guid=guid,
        title=title,
        date=_date_text(entry),
        text=body,
    )
    first_seen = as_utc(ctx.known_first_seen.get(pid)) or ctx.now
    stated = (
        entry_date(entry.published, entry.published_raw, source.day_first),
        entry_date(entry.updated, entry.updated_raw, source.day_first),
    )
    published, updated = choose_dates(*stated, first_seen, ctx.now)
    tags = clean_tags(entry.tags)
    teaser = excerpt_of_blocks(body, EXCERPT_LIMIT)
    detect_text = f"{'' if derived else title}\n{teaser}"
    final_link = link or fallback_link(entry, source, feed)
    values: dict[str, object] = {
        "id": pid,
        "source_id": source.id,
        "guid": (entry.guid or "").strip() or None,
        "title": title,
        "link": final_link,
        "published": published,
        "updated": updated,
        "first_seen": first_seen,
        "language": choose_language(
            entry.language, feed.language, detect_text, ctx.languages, source.language
        ),
        "excerpt": teaser,
        "content_html": content_html,
        "title_derived": derived,
        "authors": choose_authors(entry.authors, byline_authors, feed.authors),
        "tags": tags,
        "topics": match_topics(tags, ctx.topics_index, ctx.topic_order),
        "image": pick_image(entry, base, content_html),
        "translations": translations(entry, base, final_link),
    }
    # the hash is taken before the post is built: one construction instead of two
    return Post(**values, content_hash=_digest(_material(values, stated)))  # type: ignore[arg-type]


def _usable_links(links: Sequence[str | None], feed: ParsedFeed, source: Source) -> list[bool]:
    """Whether each entry's link can name it: not shared with another entry of the document
    and not the site's home page (some feeds give every item the home page as link)."""
    keys = [identity_key(link) if link else None for link in links]
    counts = Counter(k for k in keys if k)
    homes = {
        identity_key(c)
        for c in (canonicalize(source.homepage), canonicalize(feed.link, feed.url))
        if c
    }
    return [
        k is not None and counts[k] == 1 and k not in homes and not k.endswith("/") for k in keys
    ]


def normalise(
    parsed: ParsedFeed,
    source: Source,
    now: datetime,
    *,
    languages: Sequence[str] = ("en", "fr", "es"),
    topics: Mapping[str, Sequence[str]] | None = None,
    known_first_seen: Mapping[str, datetime] | None = None,
) -> list[Post]:
    """Every entry of ``parsed`` as a :class:`Post`, in document order, one per id.

    ``known_first_seen`` maps post ids to the ``first_seen`` the store already holds, so an
    updated post keeps it.  Entries that come out with the same id (the same story listed twice)
    give one post: the first.  Pure: same arguments, same posts.
    """
    topic_map = topics or {}
    ctx = _Context(
        source=source,
        feed=parsed,
        now=as_utc(now) or now,
        languages=tuple(languages),
        topics_index=topic_index(topic_map),
        topic_order=tuple(topic_map),
        known_first_seen=known_first_seen or {},
    )
    entries = parsed.entries
    bases = [entry_base(entry, parsed) for entry in entries]
    links = [own_link(entry, base) for entry, base in zip(entries, bases, strict=True)]
    usable = _usable_links(links, parsed, source)
    posts: list[Post] = []
    seen: set[str] = set()
    for entry, base, link, link_ok, guid in zip(
        entries, bases, links, usable, sane_guids(entries), strict=True
    ):
        post = _one(entry, base, link, link_ok, guid, ctx)
        if post.id not in seen:
            seen.add(post.id)
            posts.append(post)
    return posts
