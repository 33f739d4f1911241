"""What every output of one publish needs, read from the store once: the ``Site`` record.

Enters: the store, the settings and ``now``.  Leaves: a ``Site`` (settings, sources, their
states, every post newest first, the topics' labels per language) and the small pure helpers
every format shares: which URLs may be republished (``safe_url``), a post's stable id
(``entry_id``), its title, its authors (``bylines``), its categories and the other members that
published the same story.

Everything here is a function of the store's contents and the settings, never of the clock
(``now`` only dates the feeds of an empty store), so that publishing twice with nothing new
produces the same bytes.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, TypeVar
from urllib.parse import quote, urlsplit

from aggregator.config import Settings
from aggregator.models import Post, Source, SourceState
from aggregator.present.topics import TopicLabels, choose_topic_labels
from aggregator.publish.outputs import clean_line, clean_name
from aggregator.store.protocol import Store

ATOM_TYPE = "application/atom+xml"
# Archive pages' entries kept for the members' editions, and their posts, for the editions and
# the pages.  Used only when no helper writes the newest pages (under archives.HELP_FROM pages,
# 40,000 posts at 100 a page, or on one core), where a publish's peak is well under that of the
# largest stores: 24 MiB each took a first publish from 30,000 posts from 139 to 158 MiB of
# peak memory and 8 % less CPU (16 MiB left 1,084 of 10,000 entries to write twice).
SPARE_ENTRY_BYTES = 24 * 2**20
SPARE_POST_BYTES = 24 * 2**20
_V = TypeVar("_V")
RSS_TYPE = "application/rss+xml"
JSON_TYPE = "application/feed+json"
GENERATOR_NAME = "localgov-aggregator"
GENERATOR_URI = "https://github.com/localgov-aggregator/localgov-aggregator"
# Fixed forever: entry ids are uuid5(ENTRY_NAMESPACE, Post.id); changing it re-announces every post.
ENTRY_NAMESPACE = uuid.UUID("6f1d2f0e-8d5b-4f0c-9a51-3c1b8f0b7e21")
_NAMESPACE_BYTES = ENTRY_NAMESPACE.bytes
LANG_TAG = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")  # RFC 4287's atomLanguageTag


def safe_url(value: str | None) -> str | None:
    """Only absolute http(s) URLs are republished; anything else (javascript:, file:) is dropped."""
    url = clean_line(value)
    head = url[:8].lower()
    for prefix in ("https://", "http://"):
        if head.startswith(prefix):
            rest = url[len(prefix) :]
            return url if rest and rest[0] not in "/?#" else None  # a host must follow
    return None


def entry_id(post_id: str) -> str:
    """A stable URN for a post, independent of the site's domain and of the member's URLs.

    ``uuid.uuid5(ENTRY_NAMESPACE, post_id)`` spelled out (RFC 4122 §4.3), because it is called
    for every entry of every document (see docs/performance.md, "publish").
    """
    name = _NAMESPACE_BYTES + post_id.encode("utf-8")
    raw = bytearray(hashlib.sha1(name, usedforsecurity=False).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50  # version 5
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def utc(value: datetime) -> datetime:
    """``value`` in UTC; the store's datetimes already are, and are returned as they are (this
    runs several times for every post of a publish)."""
    if value.tzinfo is UTC:
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime) -> str:
    return utc(value).isoformat()


class _NewestKept(Generic[_V]):
    """Values by post id, the newest kept while their sizes add up to at most the budget; the
    oldest are let go first.  Subclasses say what a value costs and which budget applies."""

    __slots__ = ("_kept", "_size")

    def __init__(self) -> None:
        self._kept: OrderedDict[str, tuple[_V, int]] = OrderedDict()
        self._size = 0

    def _budget(self) -> int:
        raise NotImplementedError

    def _cost(self, value: _V) -> int:
        raise NotImplementedError

    def _found(self, post_id: str) -> _V | None:
        found = self._kept.get(post_id)
        return None if found is None else found[0]

    def _keep(self, post_id: str, value: _V) -> None:
        cost = self._cost(value)
        self._kept[post_id] = (value, cost)
        self._size += cost
        budget = self._budget()
        while self._size > budget and self._kept:
            self._size -= self._kept.popitem(last=False)[1][1]


class SpareEntries(_NewestKept[bytes]):
    """Archive pages' entries, the newest kept while they fit in ``SPARE_ENTRY_BYTES``.

    Archive pages are written oldest first and before the members' editions, which hold each
    member's newest posts: those are then mostly among the last entries the pages wrote, and
    are serialized once instead of twice (5,000 of the 15,000 entries of a first publish from
    10,000 posts).  Every post being on one archive page, keeping them all would hold the
    whole store in memory at 700,000 posts.
    """

    __slots__ = ()

    def _budget(self) -> int:
        return SPARE_ENTRY_BYTES

    def _cost(self, value: bytes) -> int:
        return len(value)

    def get(self, post_id: str) -> bytes | None:
        return self._found(post_id)

    def keep(self, post_id: str, entry: bytes) -> None:
        self._keep(post_id, entry)


class SparePosts(_NewestKept[Post]):
    """The posts the archive pages read, the newest kept while about ``SPARE_POST_BYTES``.

    A streaming publish reads every post once for the archive pages, oldest first, then
    reads the newest again for the editions and the HTML pages (9,900 rows at 10,000 posts).
    Those are mostly the last the archive stream read: kept, they are taken from here when
    their stamp says they are unchanged since (``fresh``), and read otherwise.
    """

    __slots__ = ()

    def _budget(self) -> int:
        return SPARE_POST_BYTES

    def _cost(self, value: Post) -> int:
        return len(value.content_html) + len(value.excerpt) + len(value.title) + 512

    def keep(self, post: Post) -> None:
        self._keep(post.id, post)

    def fresh(self, post_id: str, content_hash: str, first_seen: datetime) -> Post | None:
        """The kept post, if its hash and first sighting are still these and no other member
        published it too (``also_from``: then the store's row is read)."""
        post = self._found(post_id)
        if post is None or post.content_hash != content_hash:
            return None
        return None if post.first_seen != first_seen or post.also_from else post


@dataclass(frozen=True)
class Site:
    """The store's contents as one publish sees them, with per-publish caches.

    The caches are filled by the writers (a post appears in up to six documents, a source in
    many entries) and live exactly as long as the publish does.
    """

    settings: Settings
    sources: Mapping[str, Source]
    states: Mapping[str, SourceState]
    posts: Sequence[Post]  # newest first by (published, id); empty in a streaming publish
    now: datetime
    newest_updated: datetime  # of any post; the clock only when the store is empty
    topics: TopicLabels  # each topic's label in each language
    entries: dict[str, bytes] = field(default_factory=dict)  # post id -> atom:entry bytes
    # archive pages' entries, the newest kept up to SPARE_ENTRY_BYTES (``SpareEntries``)
    spare_entries: SpareEntries = field(default_factory=lambda: SpareEntries())
    spare_posts: SparePosts = field(default_factory=lambda: SparePosts())  # and their posts
    source_infos: dict[str, dict[str, str]] = field(default_factory=dict)
    source_xml: dict[str, str] = field(default_factory=dict)  # for the fast entry writer
    digests: dict[str, str] = field(default_factory=dict)  # post id -> memo digest
    categories_xml: dict[tuple[tuple[str, ...], tuple[str, ...], str], str] = field(
        default_factory=dict
    )
    organisations: dict[str, tuple[str, str]] = field(default_factory=dict)
    topic_keys: frozenset[str] = frozenset()  # every post's topics, when ``posts`` is not all
    # reads the newest ``updated`` when a document without posts needs it (a streaming
    # publish: ``newest_updated`` is then the clock's, used only for an empty store)
    newest_loader: Callable[[], datetime | None] | None = None
    loaded: dict[str, datetime] = field(default_factory=dict)

    def empty_updated(self) -> datetime:
        """The ``updated`` of a document without posts: the newest post's, else the clock's."""
        if self.newest_loader is None:
            return self.newest_updated
        found = self.loaded.get("newest")
        if found is None:
            newest = self.newest_loader()
            found = self.loaded["newest"] = utc(newest) if newest else self.newest_updated
        return found

    @property
    def base(self) -> str:
        return self.settings.site.base_url

    def url(self, path: str) -> str:
        return self.base + path

    def topic_label(self, key: str, language: str | None = None) -> str:
        return self.topics.label(key, language)

    def organisation(self, source_id: str, language: str | None = None) -> tuple[str, str]:
        """(name, homepage or "") of the member organisation behind a source, named in
        ``language`` where ``feeds.yaml`` gives it a label there (cached)."""
        key = f"{source_id}\n{language or ''}"
        found = self.organisations.get(key)
        if found is None:
            found = _organisation(self.sources.get(source_id))
            if language:
                found = (self._label(source_id, language) or found[0], found[1])
            if not found[0]:
                found = (clean_line(source_id), found[1])
            self.organisations[key] = found
        return found

    def _label(self, source_id: str, language: str) -> str:
        for configured in self.settings.sources:
            if configured.id == source_id and configured.organisation_labels:
                return clean_name(configured.organisation_in(language))
        return ""


def _organisation(source: Source | None) -> tuple[str, str]:
    if source is None:
        return "", ""
    name = clean_name(source.organisation) or clean_name(source.name)
    return name, safe_url(source.homepage) or ""


def load_site(store: Store, settings: Settings, now: datetime) -> Site:
    """Read everything a publish needs from the store, posts newest first."""
    total = store.count_posts()
    posts = store.recent_posts(total) if total > 0 else []
    posts = sorted(posts, key=lambda p: (utc(p.published), p.id), reverse=True)
    overall = max((utc(p.updated) for p in posts), default=utc(now))
    topics = choose_topic_labels(settings.topics, settings.topic_labels, posts)
    return Site(settings, store.get_sources(), store.get_states(), posts, now, overall, topics)


def source_id_uri(base_url: str, source_id: str) -> str:
    """A ``tag:`` URI naming a member's feed for good (RFC 4151).

    The member's fetch URL is no id: it moves (301s, a new CMS) and in the demo it even holds
    a random port, and readers group entries by atom:source/id.  The site's host and the
    operator's source id are what stay put; the date is fixed forever, as the RFC requires of
    one minting authority.
    """
    host = (urlsplit(base_url).hostname or "localhost").lower()
    return f"tag:{host},2026:sources/{quote(source_id, safe='-_.')}"


def source_info(site: Site, source_id: str) -> dict[str, str]:
    """id, title, alternate and self link of the member feed a post came from (cached)."""
    cached = site.source_infos.get(source_id)
    if cached is None:
        cached = site.source_infos[source_id] = _build_source_info(site, source_id)
    return cached


def _build_source_info(site: Site, source_id: str) -> dict[str, str]:
    source = site.sources.get(source_id)
    state = site.states.get(source_id)
    title = (state.title if state and state.title else None) or (source.name if source else "")
    feed_url = source.url if source else (state.url if state else "")
    alternate = safe_url(source.homepage if source else None) or safe_url(
        state.link if state else None
    )
    return {
        "id": source_id_uri(site.base, source_id),
        "title": clean_name(title) or clean_line(source_id),
        "alternate": alternate or "",
        "self": safe_url(feed_url) or site.url(f"sources/{source_id}.atom"),
    }


def post_title(post: Post) -> str:
    """The post's title; an untitled post borrows its excerpt's start, its link, or "…"."""
    title = clean_line(post.title)
    if title:
        return title
    return clean_line(post.excerpt)[:80] or clean_line(post.link) or "…"


def bylines(site: Site, post: Post) -> list[tuple[str, str | None]]:
    """(name, uri) of whoever wrote the post: its authors, else the member organisation.

    RFC 4287 makes an entry without an author the feed's, i.e. the network's: readers then
    show the network's name, or nothing.  Every format names someone, the same one.
    """
    found = []
    for author in post.authors:
        name = clean_line(author.name)
        if name:
            found.append((name, safe_url(author.uri)))
    if found:
        return found
    name, homepage = site.organisation(post.source_id, post.language)
    return [(name, homepage or None)]


def topic_scheme(site: Site, key: str) -> str:
    """A topic's identity in ``scheme``: the key under the site's ``topics/`` (RFC 4287 §4.2.2)."""
    return site.url("topics/" + quote(key, safe=""))


def categories(site: Site, post: Post) -> list[dict[str, str]]:
    """One category per topic, labelled in the post's language (``term`` is that label, the key
    is in ``scheme``: readers show ``term``), then the post's other tags (term = label).

    A tag that only spells one of the post's topics ("Migration" beside the topic migration,
    "Résilience, Resiliencia") is the topic, shown once.
    """
    cats = []
    for key in post.topics:
        label = site.topic_label(key, post.language)
        if clean_line(key) and label:
            cats.append({"term": label, "scheme": topic_scheme(site, key), "label": label})
    for tag in dict.fromkeys(clean_line(x) for x in post.tags):
        if tag and not any(site.topics.spells(tag, key) for key in post.topics):
            cats.append({"term": tag, "label": tag})
    return cats


def also_from(site: Site, post: Post) -> list[tuple[str, str]]:
    """(organisation, homepage) of every *other* member that published the same story."""
    if not post.also_from:
        return []
    own = site.organisation(post.source_id, post.language)[0]
    found: dict[str, str] = {}
    for sid in post.also_from:
        if sid == post.source_id:
            continue
        name, homepage = site.organisation(sid, post.language)
        if name and name != own and name not in found:
            found[name] = homepage
    return list(found.items())
