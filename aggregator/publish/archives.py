"""RFC 5005 archive pages: every post stays reachable after it leaves the live feed.

Enters: the ``Site`` and the output directory (where earlier publishes cut their pages).
Leaves: ``archive/N.atom`` pages, oldest first, each linking to the one before it; the newest
complete page is linked from ``feed.atom`` (``prev-archive``).

Pages are cut in first-seen order, which only ever grows at the end, so a complete page keeps
its members for good and is written once, never again (served with a long max-age).  Where
the pages end is remembered in dotfiles the server never serves: ``.archive-index.json`` (so
that retention deleting old posts cannot shift the boundaries) and ``archive/.page-size`` (a
changed page size deletes the old pages, and their gzip twins, and cuts afresh once).
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from aggregator.models import Post
from aggregator.publish.atom import atom_document
from aggregator.publish.editions import FeedSpec
from aggregator.publish.memo import Writer
from aggregator.publish.outputs import remove_with_twin, write_atomic
from aggregator.publish.site import Site, utc

ARCHIVE_MARKER = "archive/.page-size"
ARCHIVE_INDEX = ".archive-index.json"  # where each page ends, so retention cannot shift them
_ARCHIVE_FILE = re.compile(r"^[0-9]+\.atom$")

ArchiveKey = tuple[datetime, str]  # a post's place in first-seen order: (first_seen, id)


def archive_path(number: int) -> str:
    return f"archive/{number}.atom"


def _archive_key(post: Post) -> ArchiveKey:
    return (utc(post.first_seen), post.id)


def archive_pages(
    posts: Iterable[Post], size: int, ends: Sequence[ArchiveKey] = ()
) -> list[list[Post]]:
    """Complete pages of ``size`` posts in first-seen order (oldest page first).

    New posts are first seen *now*, after every stored one, so they only ever extend the tail:
    a complete page keeps its members for good.  ``ends`` are the last keys of the pages cut
    by earlier publishes: those pages keep their boundaries even when retention has since
    deleted their oldest posts (cutting afresh would shift every boundary, hide the newest
    existing page from the chain and never archive the posts the shift skipped); only the
    posts after the last end are cut into new pages.
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
    pages.extend(tail[i * size : (i + 1) * size] for i in range(len(tail) // size))
    return pages


def archive_plan(site: Site, root: Path) -> list[list[Post]]:
    """This publish's archive pages, cut where earlier publishes cut them (see archive_pages).

    When the page size (``site.feed_entries``) is not the one the pages were cut at, the old
    boundaries are useless and the pages are cut afresh (``write_archives`` deletes the old).
    """
    size = site.settings.site.feed_entries
    marker = root / ARCHIVE_MARKER
    same_size = not marker.is_file() or marker.read_bytes() == str(size).encode()
    ends = _load_archive_ends(root, size) if same_size else []
    pages = archive_pages(site.posts, size, ends)
    _save_archive_ends(root, size, ends, pages)
    return pages


def _load_archive_ends(root: Path, size: int) -> list[ArchiveKey]:
    """The boundaries earlier publishes cut at this page size; [] when unknown or unusable."""
    try:
        data = json.loads((root / ARCHIVE_INDEX).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("size") != size:
            return []
        ends = [(utc(datetime.fromisoformat(when)), str(pid)) for when, pid in data["ends"]]
    except (OSError, ValueError, TypeError, KeyError):
        return []
    return ends if ends == sorted(ends) else []


def _save_archive_ends(
    root: Path, size: int, ends: Sequence[ArchiveKey], pages: Sequence[Sequence[Post]]
) -> None:
    known = list(ends[: len(pages)])
    known += [_archive_key(page[-1]) for page in pages[len(known) :]]
    if not known:
        return
    data = {"size": size, "ends": [[when.isoformat(), pid] for when, pid in known]}
    write_atomic(root / ARCHIVE_INDEX, json.dumps(data).encode("utf-8"))


def write_archives(site: Site, out: Writer, pages: Sequence[Sequence[Post]]) -> None:
    """Write complete archive pages that do not exist yet; existing ones are final."""
    title = site.settings.site.title
    marker = out.root / ARCHIVE_MARKER
    size = str(site.settings.site.feed_entries).encode()
    if marker.is_file() and marker.read_bytes() != size:
        for old in (out.root / "archive").glob("*.atom"):
            if _ARCHIVE_FILE.match(old.name):
                remove_with_twin(old)
    if pages:
        write_atomic(marker, size)
    for number, members in enumerate(pages, start=1):
        relative = archive_path(number)
        if (out.root / relative).is_file():
            out.keep_final(relative)
            continue
        spec = FeedSpec(relative, f"{title} (archive {number})")
        newest_first = list(reversed(members))
        data = atom_document(
            site,
            spec,
            newest_first,
            archive=True,
            prev_archive=archive_path(number - 1) if number > 1 else None,
            current="feed.atom",
        )
        out.put(relative, data)
