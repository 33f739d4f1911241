"""Which posts an edition holds: the window, the filters, the order, the sections.

**The window is "first seen", never "published".**  An edition holds the posts the aggregator
first saw after the previous edition's watermark (``window_end``) and up to ``now``.  A post
that arrives late with an old publication date is therefore in the next edition, and a post
that a publisher re-dates is never sent twice (the Mailchimp RSS-campaign complaint).

Everything here is decided from records and ``now``; ``select_posts`` only reads the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aggregator.config import EditionSettings
from aggregator.models import EditionRecord, Post
from aggregator.store.protocol import Store


@dataclass(frozen=True, slots=True)
class Selection:
    """The posts of one window, after the edition's filters, newest published first."""

    window_start: datetime | None  # exclusive; None before the first edition
    window_end: datetime  # inclusive
    posts: tuple[Post, ...]
    over_cap: int = 0  # matching posts beyond max_items: on the site, not in the email


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One post as the email shows it: words already flattened to one line and dated."""

    post_id: str
    title: str
    url: str
    organisation: str
    date: str
    excerpt: str
    language: str
    published: datetime
    image: str | None = None  # the thumbnail, a copy on our own site
    also_from: str = ""
    rank: int = 0  # 0 for the newest; the clip drops the highest ranks first
    tags: str = ""  # the seeds' "tags - dd/mm/yyyy" line
    day: str = ""  # dd/mm/yyyy
    image_alt: str = ""
    image_height: int = 0  # at the thumbnail's width
    siblings: tuple[tuple[str, str, str], ...] = ()  # (language, link, its name in itself)
    topic: str = ""  # its first topic's label in the edition's language (a section's heading)


@dataclass(frozen=True, slots=True)
class DigestSection:
    """A heading (an organisation or a topic) and its items, newest published first."""

    heading: str
    items: tuple[DigestItem, ...]


def edition_id(name: str, window_end: datetime) -> str:
    """``weekly-2026-11-20T08:00:00Z``: the edition's name and the end of its window, in UTC."""
    return f"{name}-{window_end.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def select_posts(
    store: Store, edition: EditionSettings, last: EditionRecord | None, now: datetime
) -> Selection:
    """Posts first seen in ``(last.window_end, now]`` that the edition's filters accept.

    Filtering happens here rather than in the store query so that a language such as
    ``fr-CA`` matches an edition for ``fr``.
    """
    start = last.window_end if last is not None else None
    end = now if start is None or now > start else start
    found = store.posts_first_seen(start, end) if start is None or end > start else []
    return select_in_window(start, end, found, edition)


def select_in_window(
    start: datetime | None, end: datetime, found: Iterable[Post], edition: EditionSettings
) -> Selection:
    """The edition's share of the posts ``found`` in a window: filtered, newest first, capped.

    Also how an unsent edition is selected again over its own recorded window.
    """
    wanted = sorted(
        (p for p in found if _accepts(edition, p)),
        key=lambda p: (p.published, p.id),
        reverse=True,
    )
    kept = tuple(wanted[: edition.max_items])
    return Selection(start, end, kept, len(wanted) - len(kept))


def _accepts(edition: EditionSettings, post: Post) -> bool:
    if edition.language and base_lang(post.language) != base_lang(edition.language):
        return False
    if edition.topics and not set(edition.topics) & set(post.topics):
        return False
    return not edition.sources or post.source_id in edition.sources


def base_lang(tag: str | None) -> str:
    """``fr`` for ``fr-CA``: editions are per language, not per region (untagged is English)."""
    return (tag or "en").split("-")[0].lower()


def group_items(
    items: Sequence[DigestItem],
    posts: Mapping[str, Post],
    group_by: str,
    other: str,
) -> tuple[DigestSection, ...]:
    """Sections in alphabetical order, "other" last; each post appears in one section only.
    A topic is headed by its label in the edition's language (``DigestItem.topic``)."""
    groups: dict[str, list[DigestItem]] = {}
    for item in items:
        if group_by == "topic":
            topics = posts[item.post_id].topics
            heading = (item.topic or topic_heading(topics[0])) if topics else other
        else:
            heading = item.organisation or other
        groups.setdefault(heading, []).append(item)
    order = sorted(groups, key=lambda h: (h == other, h.casefold()))
    return tuple(DigestSection(h, tuple(groups[h])) for h in order)


def topic_heading(key: str) -> str:
    return key.replace("-", " ").replace("_", " ").strip().capitalize()
