"""RFC 5005 archive pages: every post stays reachable after it leaves the live feed.

Enters: the ``Site``, the ids of the posts ``feed.atom`` carries, and the output directory
(where earlier publishes cut their pages).  Leaves: ``archive/N.atom`` pages, oldest first,
each linking to the page before it (``prev-archive``), the page after it (``next-archive``) and
the live feed (``current``); the newest page is linked from ``feed.atom`` (``prev-archive``).

Pages are cut in first-seen order, which only ever grows at the end, so a page keeps its
members for good: it is written once, and touched once more only to add its ``next-archive``
link when the page after it is cut (by adding that one element: its entries stay as written,
even those retention has since deleted from the store).  A page is cut when ``feed_entries``
posts wait, or sooner, with whatever waits, as soon as a waiting post is one ``feed.atom`` does
not carry (a late post dated before the newest ``feed_entries``, an undated backlog held back):
every post is in the live feed or in a page reachable from it.

Where the pages end is remembered in dotfiles the server never serves: ``.archive-index.json``
(so that retention deleting old posts cannot shift the boundaries, and which pages already
carry their ``next-archive`` link) and ``archive/.page-size`` (a changed page size deletes the
old pages, and their gzip twins, and cuts afresh once; so does a lost index, since early cuts
cannot be recomputed).
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from lxml import etree

from aggregator.models import Post
from aggregator.publish.atom import atom_document
from aggregator.publish.editions import FeedSpec
from aggregator.publish.memo import Writer
from aggregator.publish.outputs import remove_with_twin, write_atomic
from aggregator.publish.site import ATOM_TYPE, Site, utc

ARCHIVE_MARKER = "archive/.page-size"
ARCHIVE_INDEX = ".archive-index.json"  # where each page ends, so retention cannot shift them
_ARCHIVE_FILE = re.compile(r"^[0-9]+\.atom$")
_ATOM_LINK = "{http://www.w3.org/2005/Atom}link"

ArchiveKey = tuple[datetime, str]  # a post's place in first-seen order: (first_seen, id)


@dataclass(frozen=True, slots=True)
class ArchivePlan:
    """This publish's archive pages, where they end, and what the pages on disk already have."""

    pages: list[list[Post]]  # oldest page first, each in first-seen order
    ends: list[ArchiveKey]  # where each page ends (kept even when retention emptied a page)
    linked: int = 0  # pages 1..linked already carry their next-archive link
    fresh: bool = False  # old pages must go first (another page size, or a lost index)


def archive_path(number: int) -> str:
    return f"archive/{number}.atom"


def _archive_key(post: Post) -> ArchiveKey:
    return (utc(post.first_seen), post.id)


def archive_pages(
    posts: Iterable[Post],
    size: int,
    ends: Sequence[ArchiveKey] = (),
    live: frozenset[str] | None = None,
) -> list[list[Post]]:
    """Pages in first-seen order, oldest first.

    New posts are first seen *now*, after every stored one, so they only ever extend the tail:
    a page keeps its members for good.  ``ends`` are the last keys of the pages cut by earlier
    publishes: those pages keep their boundaries even when retention has since deleted their
    oldest posts (cutting afresh would shift every boundary, hide the newest existing page from
    the chain and never archive the posts the shift skipped).  The posts after the last end are
    cut into pages of ``size``; if what remains holds a post the live feed does not carry (not
    in ``live``; None: it carries them all), it becomes a page at once.
    """
    ordered = sorted(posts, key=_archive_key)
    keys = [_archive_key(p) for p in ordered]
    pages: list[list[Post]] = []
    start = 0
    for end in ends:
        stop = bisect.bisect_right(keys, end, lo=start)
        pages.append(ordered[start:stop])
        start = stop
    tail = ordered[start:]
    full = len(tail) // size
    pages.extend(tail[i * size : (i + 1) * size] for i in range(full))
    tail = tail[full * size :]
    if live is not None and any(p.id not in live for p in tail):
        pages.append(tail)
    return pages


def archive_plan(site: Site, root: Path, live: frozenset[str] | None = None) -> ArchivePlan:
    """This publish's archive pages, cut where earlier publishes cut them (see archive_pages).

    When the page size (``site.feed_entries``) is not the one the pages were cut at, or the
    index of their boundaries is lost, the pages are cut afresh (``write_archives`` deletes
    the old ones).
    """
    size = site.settings.site.feed_entries
    marker = root / ARCHIVE_MARKER
    same_size = not marker.is_file() or marker.read_bytes() == str(size).encode()
    index = _load_archive_index(root, size) if same_size else None
    fresh = not same_size or (index is None and (root / archive_path(1)).is_file())
    ends, linked = index if index is not None else ([], 0)
    pages = archive_pages(site.posts, size, ends, live)
    ends = ends[: len(pages)] + [_archive_key(page[-1]) for page in pages[len(ends) :]]
    return ArchivePlan(pages, ends, linked, fresh)


def _load_archive_index(root: Path, size: int) -> tuple[list[ArchiveKey], int] | None:
    """(the boundaries earlier publishes cut at this page size, pages already linked forward);
    None when unknown or unusable."""
    try:
        data = json.loads((root / ARCHIVE_INDEX).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("size") != size:
            return None
        ends = [(utc(datetime.fromisoformat(when)), str(pid)) for when, pid in data["ends"]]
        linked = data.get("linked", 0)  # absent: written before pages were linked forward
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if ends != sorted(ends) or not isinstance(linked, int):
        return None
    return ends, linked


def _save_archive_index(root: Path, size: int, ends: Sequence[ArchiveKey]) -> None:
    if not ends:
        return
    data = {
        "size": size,
        "ends": [[when.isoformat(), pid] for when, pid in ends],
        "linked": len(ends) - 1,
    }
    write_atomic(root / ARCHIVE_INDEX, json.dumps(data).encode("utf-8"))


def write_archives(site: Site, out: Writer, plan: ArchivePlan) -> None:
    """Write the pages that do not exist yet; link older ones forward once; the rest is final."""
    size = site.settings.site.feed_entries
    if plan.fresh:
        for old in (out.root / "archive").glob("*.atom"):
            if _ARCHIVE_FILE.match(old.name):
                remove_with_twin(old)
    if plan.pages:
        write_atomic(out.root / ARCHIVE_MARKER, str(size).encode())
    count = len(plan.pages)
    linked = 0 if plan.fresh else plan.linked
    for number, members in enumerate(plan.pages, start=1):
        relative = archive_path(number)
        path = out.root / relative
        following = archive_path(number + 1) if number < count else None
        if not path.is_file():
            out.put(relative, _archive_page(site, number, members, following))
        elif following and number > linked:
            out.put(relative, _linked_forward(site, path, (number, members), following))
        else:
            out.keep_final(relative)
    _save_archive_index(out.root, size, plan.ends)


def _linked_forward(
    site: Site, path: Path, page: tuple[int, Sequence[Post]], following: str
) -> bytes:
    """An existing page with its next-archive link; a page we cannot read is cut again."""
    number, members = page
    try:
        return with_next_archive(path.read_bytes(), site.url(following))
    except (OSError, etree.XMLSyntaxError):
        return _archive_page(site, number, members, following)


def _archive_page(site: Site, number: int, members: Sequence[Post], following: str | None) -> bytes:
    spec = FeedSpec(archive_path(number), f"{site.settings.site.title} (archive {number})")
    return atom_document(
        site,
        spec,
        list(reversed(members)),  # newest first, as in every feed
        archive=True,
        prev_archive=archive_path(number - 1) if number > 1 else None,
        current="feed.atom",
        next_archive=following,
    )


def with_next_archive(page: bytes, href: str) -> bytes:
    """An archive page as written, plus its ``next-archive`` link after its other links.

    Only that element is added: the page's entries stay as they were first published.  A page
    that has the link already is returned as it is.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    root = etree.fromstring(page, parser)
    links = root.findall(_ATOM_LINK)
    if any(link.get("rel") == "next-archive" for link in links):
        return page
    added = etree.Element(_ATOM_LINK, href=href, rel="next-archive", type=ATOM_TYPE)
    if links:
        added.tail = links[-1].tail
        links[-1].addnext(added)
    else:
        added.tail = root.text
        root.insert(0, added)
    data: bytes = etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")
    return data
