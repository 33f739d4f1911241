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

A story is every post these rules connect, directly or through other posts: if A and B link
the same page and B and C share a title, A, B and C are one story although A and C share
nothing.  So a new post is matched against the aliases of stored stories too, and a post that
matches two stored stories joins them into one (``plan_merges``).  The grouping is then the
same whatever order the posts arrived in: one cycle or several, a clean run or one restarted
after a crash (issue 17).  The story's post first seen stays primary; the others become
aliases of it (``also_from`` on the post).  Which member's post is primary can differ with
the order (the first seen is the first stored); which posts make one story cannot.

Versions of a story in other languages are not merged: they are translations, linked when the
source marks them (hreflang alternates), and rule 2 never matches across languages.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

from aggregator.models import Post

WINDOW = timedelta(days=4)
MIN_TITLE_WORDS = 4
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class StoryKey:
    """What the store returns about a candidate post of another source.

    ``story`` is the id of the story's primary post when this post is an alias of it ("" for
    a primary: its own id); ``first_seen`` is then the primary's, which decides which of two
    joined stories stays primary."""

    post_id: str
    source_id: str
    link_key: str
    title_key: str
    language: str
    published: datetime
    first_seen: datetime
    story: str = ""

    @property
    def primary(self) -> str:
        """The id of the post the story is stored under."""
        return self.story or self.post_id


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


def _matches(
    post: Post, keys: tuple[str, str] | None, candidate: StoryKey, window: timedelta
) -> bool:
    """Whether ``post`` (with its own story keys, when known) is ``candidate``'s story.

    The post's link key is its *story* key (``story_link_keys``: "" for a link that names no
    post), as stored for the candidate: the rule is then symmetric, so which of two posts was
    stored first cannot change whether they match."""
    own_link, own_title = keys if keys is not None else (link_key(post.link), title_key(post.title))
    if candidate.source_id == post.source_id:
        return False
    if own_link and candidate.link_key == own_link:
        return True
    return bool(
        own_title
        and candidate.title_key == own_title
        and candidate.language == post.language
        and abs(candidate.published - post.published) <= window
    )


def match(
    post: Post,
    candidates: Iterable[StoryKey],
    *,
    window: timedelta = WINDOW,
    keys: tuple[str, str] | None = None,
) -> str | None:
    """The id of the story ``post`` belongs to, or None.  The earliest first seen wins."""
    found = [c for c in candidates if _matches(post, keys, c, window)]
    if not found:
        return None
    return min(found, key=lambda c: (c.first_seen, c.primary)).primary


@dataclass(frozen=True, slots=True)
class MergePlan:
    """What a source's new posts do to the stories: ``merges`` (post id -> the primary of the
    story it joins) and ``joins`` ((primary demoted, primary kept): two stored stories a new
    post shows to be one)."""

    merges: dict[str, str]
    joins: tuple[tuple[str, str], ...] = ()


def plan_merges(
    posts: Sequence[Post],
    candidates: Sequence[StoryKey],
    *,
    keys: Mapping[str, tuple[str, str]] | None = None,
    window: timedelta = WINDOW,
) -> MergePlan:
    """Each post joins every story it matches; two or more become one, under the primary seen
    first (then the smallest id).  Pure: the same posts and candidates, the same plan."""
    merges: dict[str, str] = {}
    joined: dict[str, str] = {}
    joins: list[tuple[str, str]] = []
    seen = {c.primary: (c.first_seen, c.primary) for c in candidates}

    def resolve(story: str) -> str:
        while story in joined:
            story = joined[story]
        return story

    for post in posts:
        own = keys.get(post.id) if keys is not None else None
        stories = {resolve(c.primary) for c in candidates if _matches(post, own, c, window)}
        if not stories:
            continue
        kept = min(stories, key=lambda s: seen[s])
        merges[post.id] = kept
        for other in sorted(stories - {kept}):
            joined[other] = kept
            joins.append((other, kept))
    return MergePlan({pid: resolve(story) for pid, story in merges.items()}, tuple(joins))


def find_duplicates(
    posts: Sequence[Post], candidates: Sequence[StoryKey], *, window: timedelta = WINDOW
) -> dict[str, str]:
    """For each post that duplicates a stored story: post id -> the primary post's id."""
    return plan_merges(posts, candidates, window=window).merges


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


class Joins:
    """Stories joined during one cycle (demoted primary -> kept primary), so that a candidate
    read before the join was written (from the store or an index) counts in the right story."""

    def __init__(self) -> None:
        self.kept: dict[str, str] = {}
        self.first_seen: dict[str, datetime] = {}

    def record(self, joins: Iterable[tuple[str, str]], seen: Mapping[str, datetime]) -> None:
        for demoted, kept in joins:
            self.kept[demoted] = kept
            if kept in seen:
                self.first_seen[kept] = seen[kept]

    def resolve(self, story: str) -> str:
        while story in self.kept:
            story = self.kept[story]
        return story

    def current(self, key: StoryKey) -> StoryKey:
        """``key`` as part of the story it belongs to now."""
        story = self.resolve(key.primary)
        if story == key.primary:
            return key
        return replace(key, story=story, first_seen=self.first_seen.get(story, key.first_seen))


def update_stories(
    posts: Iterable[Post],
    merges: Iterable[tuple[Post, str]],
    keys: Mapping[str, tuple[str, str]],
    seen: Mapping[str, datetime],
) -> list[StoryKey]:
    """The story keys a source's update adds: its own posts as primaries, its merged posts as
    aliases of their story (``seen``: a primary's first sight, as the candidates gave it)."""
    stories = []
    for post, story in [*((p, "") for p in posts), *merges]:
        key = keys.get(post.id)
        if key is not None:
            first_seen = seen.get(story, post.first_seen) if story else post.first_seen
            stories.append(
                StoryKey(
                    post.id,
                    post.source_id,
                    key[0],
                    key[1],
                    post.language,
                    post.published,
                    first_seen,
                    story,
                )
            )
    return stories
