"""``ParsedFeed`` -> ``[Post]``: every field rule of the blog model, in one documented order.

What enters: a ``ParsedFeed`` (its dates already read by ``ingest.dates``: datetimes, never
text read again here), its ``Source``, ``now``, the site's languages and topics, and the
``first_seen`` values the store holds.  What leaves: one ``Post`` per distinct entry.

The listing pages in ``shared/seeds`` show what real entries look like: titles, tags or dates
missing, bylines inside the text, three languages in one feed, bilingual tags.  Each rule below
is a small pure function whose docstring says what it decides and why; :func:`normalise` applies
them in this order:

1. base URL (``xml:base`` of the entry, else the document's URL) and the entry's own link;
2. the plain text (summary, else content) and a leading byline taken out of it (``bylines``);
3. title (or one derived from the text), then the post id (``identity.post_id``);
4. first seen, dates, authors, tags and topics, language;
5. sanitized content, image, translations, excerpt; last the content hash (``identity``).

Nothing here reads the clock or the network: ``now`` and the stored ``first_seen`` values come
in as arguments, so the same input always gives the same posts.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from aggregator.ingest.bidi import balance_bidi
from aggregator.ingest.bylines import choose_authors, split_byline
from aggregator.ingest.dates import as_utc
from aggregator.ingest.identity import post_hash, post_id, sane_guids
from aggregator.ingest.images import NO_PRIVATE_HOSTS, is_public_image
from aggregator.ingest.language import (
    MIN_CONFIDENCE,
    detect_with_confidence,
    has_letters,
    normalise_tag,
)
from aggregator.ingest.netguard import AddressPolicy
from aggregator.ingest.plaintext import fold, plain_line
from aggregator.ingest.sanitize import (
    blocks_of,
    excerpt_of_blocks,
    html_to_blocks,
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
MAX_TAGS = 30
MAX_TAG_CHARS = 80
# Declared feed-wide languages are often a CMS default; detection overrides one only when it
# is this sure (see choose_language).
OVERRIDE_CONFIDENCE = 0.95
OVERRIDE_MIN_LETTERS = 40


# --------------------------------------------------------------------------------------------
# Titles


def clean_title(raw: str | None) -> str:
    """Entities decoded (twice when double-escaped), markup stripped, whitespace collapsed,
    control characters removed, and at most ``TITLE_LIMIT`` characters cut at a word."""
    return truncate(plain_line(raw), TITLE_LIMIT)


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
    return balance_bidi(truncate(sentence, DERIVED_TITLE_LIMIT))


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
            label = plain_line(piece).strip(" #-–|/")
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


def pick_image(
    entry: ParsedEntry,
    base: str | None,
    content_html: str,
    images: AddressPolicy = NO_PRIVATE_HOSTS,
) -> str | None:
    """Lead image: the entry's media images, an image enclosure, or the first ``<img>`` of the
    sanitized content (already absolute, lazy-loading resolved, unseen and private images
    removed).  An image on a private address is skipped wherever it comes from (``images``
    holds the operator's ``allow_private`` pairs)."""
    for url in entry.images:
        found = absolute_url(url, base)
        if found and is_public_image(found, images):
            return found
    for link in entry.links:
        is_image = (link.type or "").startswith("image/") or (
            link.rel == "enclosure" and not link.type and _IMAGE_EXT.search(link.href or "")
        )
        if is_image:
            found = absolute_url(link.href, base)
            if found and is_public_image(found, images):
                return found
    match = _FIRST_IMG.search(content_html) if "<img" in content_html else None
    if match:
        found = absolute_url(html.unescape(match.group(1)))
        return found if found and is_public_image(found, images) else None
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
    if feed_declared:
        if not has_letters(text, OVERRIDE_MIN_LETTERS):
            return feed_declared  # too short to overrule a declaration: not even detected
        detected, confidence = detect_with_confidence(text, languages)
        return detected if detected and confidence >= OVERRIDE_CONFIDENCE else feed_declared
    detected, confidence = detect_with_confidence(text, languages)
    if detected and confidence >= MIN_CONFIDENCE:
        return detected
    return configured or "en"


@dataclass(frozen=True, slots=True)
class _Context:
    source: Source
    feed: ParsedFeed
    now: datetime
    languages: tuple[str, ...]
    topics_index: dict[str, tuple[str, ...]]
    topic_order: tuple[str, ...]
    known_first_seen: Mapping[str, datetime]
    images: AddressPolicy  # the private host:port pairs images may load from


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


@dataclass(frozen=True, slots=True)
class _Draft:
    """An entry on its way to a ``Post``: every field but the language, which ``normalise``
    decides for all the document's entries in one pass."""

    values: dict[str, object]
    stated: tuple[datetime | None, datetime | None]  # (published, updated) as the feed stated
    detect_text: str  # what language detection reads: the title and the teaser
    entry_language: str | None


def _draft(
    entry: ParsedEntry,
    base: str | None,
    link: str | None,
    link_ok: bool,
    guid: str | None,
    content_html: str,
    texts: tuple[tuple[Author, ...], str],
    ctx: _Context,
) -> _Draft:
    source, feed = ctx.source, ctx.feed
    byline_authors, body = texts
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
    stated = (as_utc(entry.published), as_utc(entry.updated))
    published, updated = choose_dates(*stated, first_seen, ctx.now)
    tags = clean_tags(entry.tags)
    teaser = excerpt_of_blocks(body, EXCERPT_LIMIT)
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
        "excerpt": teaser,
        "content_html": content_html,
        "title_derived": derived,
        "authors": choose_authors(entry.authors, byline_authors, feed.authors),
        "tags": tags,
        "topics": match_topics(tags, ctx.topics_index, ctx.topic_order),
        "image": pick_image(entry, base, content_html, ctx.images),
        "translations": translations(entry, base, final_link),
    }
    detect_text = f"{'' if derived else title}\n{teaser}"
    return _Draft(values, stated, detect_text, entry.language)


def _post(draft: _Draft, language: str) -> Post:
    values = {**draft.values, "language": language}
    # the hash is taken before the post is built: one construction instead of two
    return Post(
        **values,  # type: ignore[arg-type]
        content_hash=post_hash(values, draft.stated),
        undated=draft.stated == (None, None),
    )


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


@lru_cache(maxsize=16)
def _image_policy(allow_private: tuple[str, ...]) -> AddressPolicy:
    """The images' address policy, read once per allow list, not once per document: each of
    its ``host:port`` entries is checked and normalised, 4 % of a worker's time at 64 entries."""
    return AddressPolicy.from_allow(allow_private)


def normalise(
    parsed: ParsedFeed,
    source: Source,
    now: datetime,
    *,
    languages: Sequence[str] = ("en", "fr", "es"),
    topics: Mapping[str, Sequence[str]] | None = None,
    known_first_seen: Mapping[str, datetime] | None = None,
    allow_private: Collection[str] = (),
) -> list[Post]:
    """Every entry of ``parsed`` as a :class:`Post`, in document order, one per id.

    ``known_first_seen`` maps post ids to the ``first_seen`` the store already holds, so an
    updated post keeps it.  ``allow_private`` is the operator's ``fetch.allow_private``: the
    private ``host:port`` pairs that stand for members' sites, whose images are kept.  Entries
    that come out with the same id (the same story listed twice) give one post: the first.
    Pure: same arguments, same posts.
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
        images=_image_policy(tuple(allow_private)),
    )
    entries = parsed.entries
    bases = [entry_base(entry, parsed) for entry in entries]
    links = [own_link(entry, base) for entry, base in zip(entries, bases, strict=True)]
    usable = _usable_links(links, parsed, source)
    # One step at a time over all the entries, not one entry at a time through every step: a
    # step's code and tables (the sanitizer, the text rules, the language model) are then
    # still in the CPU's caches for the next entry, where the other steps used to evict them.
    # Same posts; about a tenth of a worker's time (docs/performance.md).
    prepared = [prepare_markup(entry.content or entry.summary or "") for entry in entries]
    contents = [
        sanitize_prepared(markup, base, ctx.images)
        for markup, base in zip(prepared, bases, strict=True)
    ]
    texts = [
        _texts(entry, markup, content)
        for entry, markup, content in zip(entries, prepared, contents, strict=True)
    ]
    del prepared  # a copy of every entry's markup, as large as the document's content
    drafts = [
        _draft(entry, base, link, link_ok, guid, content, text, ctx)
        for entry, base, link, link_ok, guid, content, text in zip(
            entries, bases, links, usable, sane_guids(entries), contents, texts, strict=True
        )
    ]
    chosen = [
        choose_language(
            d.entry_language, parsed.language, d.detect_text, ctx.languages, source.language
        )
        for d in drafts
    ]
    posts: list[Post] = []
    seen: set[str] = set()
    for draft, language in zip(drafts, chosen, strict=True):
        post = _post(draft, language)
        if post.id not in seen:
            seen.add(post.id)
            posts.append(post)
    return posts
