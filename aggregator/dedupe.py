"""The same story from several members becomes one post: pure matching rules.

Networks cross-post: UCLG, CEMR and PLATFORMA may all announce one study.  Subscribers must see
it once, naming every member that published it.  Rules, in order:

1. **Same link.**  Two posts whose links share a *link key* are one story, whatever their
   titles or languages, when the link names one post (``story_link_keys``): never a link
   several entries of one document share, a home page, or a bare domain.  The key is looser
   than the canonical link (itself already free of tracking parameters and fragments): it
   ignores the scheme, a leading ``www.``, a trailing slash and the order of query parameters,
   which is how the same page is linked from different sites.
2. **Same title, same language, close in time.**  Two posts with the same *title key*
   (case-folded, accents and punctuation removed) in the same language, published within
   ``WINDOW`` of each other, are one story.  Titles of fewer than ``MIN_TITLE_WORDS`` words
   ("News", "Editorial") never match on their own: too many different posts share them.

The post first seen stays primary; the others become aliases of it (``also_from`` on the post).
Versions of a story in other languages are not merged: they are translations, linked when the
source marks them (hreflang alternates), and rule 2 never matches across languages.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

from aggregator.models import Post

WINDOW = timedelta(days=4)
MIN_TITLE_WORDS = 4
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class StoryKey:
    """What the store returns about a candidate post of another source."""

    post_id: str
    source_id: str
    link_key: str
    title_key: str
    language: str
    published: datetime
    first_seen: datetime


def link_key(url: str) -> str:
    """A key under which two links to the same page compare equal."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    port = f":{parts.port}" if parts.port not in (None, 80, 443) else ""
    path = parts.path.rstrip("/") or "/"
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return f"{host}{port}{path}" + (f"?{query}" if query else "")


def story_link_keys(links: Sequence[str | None], homes: Iterable[str | None]) -> list[str]:
    """Each post's link key for matching across sources, or "" where its link does not name
    one post.

    A link shared by several entries of the same document (a podcast whose every episode links
    the show's page), the feed's or the site's home page, or a bare domain identifies no post:
    as a merge key it would fold a member's distinct posts into another member's single story.
    Rule 2 (the title) still applies to such posts.
    """
    keys = [link_key(link) if link else "" for link in links]
    counts = Counter(keys)
    home_keys = {link_key(home) for home in homes if home}
    return [
        key if key and counts[key] == 1 and key not in home_keys and not _is_bare(key) else ""
        for key in keys
    ]


def _is_bare(key: str) -> bool:
    """A key of a site's root: ``host/`` with no path or query."""
    return key.endswith("/") and key.count("/") == 1


class _StripCombining(dict[int, int | None]):
    """A ``str.translate`` table dropping combining marks, filled as characters are seen:
    one lookup per character instead of a ``unicodedata.combining`` call each."""

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.combining(chr(code)) else code
        self[code] = kept
        return kept


_STRIP_COMBINING = _StripCombining()


def strip_accents(text: str) -> str:
    """``text`` decomposed (NFKD) without its combining marks: "Résilience" -> "Resilience"."""
    if text.isascii():  # nothing to decompose, no marks to drop
        return text
    return unicodedata.normalize("NFKD", text).translate(_STRIP_COMBINING)


def title_key(title: str) -> str:
    """Case-folded words of a title without accents or punctuation; '' when too short."""
    bare = strip_accents(title).casefold()
    words = _NON_WORD.sub(" ", bare).split()
    return " ".join(words) if len(words) >= MIN_TITLE_WORDS else ""


def match(post: Post, candidates: Iterable[StoryKey], *, window: timedelta = WINDOW) -> str | None:
    """The id of the post ``post`` duplicates, or None.  The earliest first seen wins."""
    own_link, own_title = link_key(post.link), title_key(post.title)
    found = [
        c
        for c in candidates
        if c.source_id != post.source_id
        and (
            c.link_key == own_link
            or (
                own_title
                and c.title_key == own_title
                and c.language == post.language
                and abs(c.published - post.published) <= window
            )
        )
    ]
    if not found:
        return None
    return min(found, key=lambda c: (c.first_seen, c.post_id)).post_id


def find_duplicates(
    posts: Sequence[Post], candidates: Sequence[StoryKey], *, window: timedelta = WINDOW
) -> dict[str, str]:
    """For each post that duplicates a stored story: post id -> the primary post's id."""
    merges: dict[str, str] = {}
    for post in posts:
        primary = match(post, candidates, window=window)
        if primary is not None:
            merges[post.id] = primary
    return merges


class StoryIndex:
    """Stories filed under their link key and their title key, for same-story lookups.

    The cycle keeps one for the posts of a batch not written yet (another source of the same
    batch may carry the same story) and, when the store began empty, one for what it wrote."""

    def __init__(self) -> None:
        self.by_link: dict[str, list[StoryKey]] = {}
        self.by_title: dict[str, list[StoryKey]] = {}

    def add(self, story: StoryKey) -> None:
        self.by_link.setdefault(story.link_key, []).append(story)
        self.by_title.setdefault(story.title_key, []).append(story)

    def merge(self, other: StoryIndex) -> None:
        for mine, theirs in ((self.by_link, other.by_link), (self.by_title, other.by_title)):
            for key, stories in theirs.items():
                mine.setdefault(key, []).extend(stories)

    def find(self, links: Iterable[str], titles: Iterable[str]) -> Iterator[StoryKey]:
        """Stories with one of ``links`` or ``titles`` (a story can come twice)."""
        for key in links:
            yield from self.by_link.get(key, ())
        for key in titles:
            yield from self.by_title.get(key, ())
