"""RFC 5005 archive pages: every post stays reachable after it leaves the live feed.

Enters: the store (read in first-seen order: keys to cut the pages, then each page's posts
as it is written), the ``Site``, the ids of the posts ``feed.atom`` carries, and the output
directory (where earlier publishes cut their pages).  Leaves: ``archive/N.atom`` pages,
oldest first, each linking to the page before it (``prev-archive``), the page after it
(``next-archive``) and the live feed (``current``); the newest page is linked from
``feed.atom`` (``prev-archive``).

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
cannot be recomputed).  An unchanged publish reads only the keys after the last page's end
(fewer than a page) and no post; a first publish reads every post once, a page at a time.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from pathlib import Path

from lxml import etree

from aggregator.config import Settings
from aggregator.models import Post, Source, SourceState
from aggregator.present.topics import TopicLabels
from aggregator.publish import atom_fast
from aggregator.publish.atom import atom_document
from aggregator.publish.editions import FeedSpec
from aggregator.publish.memo import Writer
from aggregator.publish.outputs import remove_with_twin, write_atomic
from aggregator.publish.site import ATOM_TYPE, Site, utc
from aggregator.store.protocol import Store

ARCHIVE_MARKER = "archive/.page-size"
ARCHIVE_INDEX = ".archive-index.json"  # where each page ends, so retention cannot shift them
_ARCHIVE_FILE = re.compile(r"^[0-9]+\.atom$")
_ATOM_LINK = "{http://www.w3.org/2005/Atom}link"
log = logging.getLogger("aggregator.publish")
# Pages to write before a helper process is worth its start (an interpreter: about a second).
HELP_FROM = 400

ArchiveKey = tuple[datetime, str]  # a post's place in first-seen order: (first_seen, id)


@dataclass(frozen=True, slots=True)
class ArchivePlan:
    """This publish's archive pages by where they end, and what the pages on disk already have.

    Only the boundaries are planned: a page's posts are read from the store when the page is
    written (``write_archives``), one page at a time."""

    ends: list[ArchiveKey]  # where each page ends, oldest first (kept when retention empties one)
    linked: int = 0  # pages 1..linked already carry their next-archive link
    fresh: bool = False  # old pages must go first (another page size, or a lost index)


def archive_path(number: int) -> str:
    return f"archive/{number}.atom"


def _archive_key(post: Post) -> ArchiveKey:
    return (utc(post.first_seen), post.id)


def cut_tail(
    cuts: tuple[list[ArchiveKey], list[ArchiveKey]], live: frozenset[str] | None = None
) -> list[ArchiveKey]:
    """Where new pages end, from the store's cuts of the posts after the last page (in
    first-seen order): each full run of a page's size ends one; what remains becomes a page
    at once if it holds a post the live feed does not carry (not in ``live``; None: it
    carries them all).

    New posts are first seen *now*, after every stored one, so they only ever extend the tail:
    a page keeps its members for good.
    """
    ends, waiting = cuts
    if waiting and live is not None and any(pid not in live for _, pid in waiting):
        return [*ends, waiting[-1]]
    return list(ends)


def archive_plan(
    store: Store, site: Site, root: Path, live: frozenset[str] | None = None
) -> ArchivePlan:
    """This publish's archive pages: those earlier publishes cut, and the tail cut anew.

    Earlier pages keep their boundaries even when retention has since deleted their oldest
    posts (cutting afresh would shift every boundary, hide the newest existing page from the
    chain and never archive the posts the shift skipped).  When the page size
    (``site.feed_entries``) is not the one the pages were cut at, or the index of their
    boundaries is lost, the pages are cut afresh (``write_archives`` deletes the old ones).
    """
    size = site.settings.site.feed_entries
    marker = root / ARCHIVE_MARKER
    same_size = not marker.is_file() or marker.read_bytes() == str(size).encode()
    index = _load_archive_index(root, size) if same_size else None
    fresh = not same_size or (index is None and (root / archive_path(1)).is_file())
    ends, linked = index if index is not None else ([], 0)
    tail = cut_tail(store.archive_cuts(ends[-1] if ends else None, size), live)
    return ArchivePlan(ends + tail, linked, fresh)


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


def write_archives(store: Store, site: Site, out: Writer, plan: ArchivePlan) -> None:
    """Write the pages that do not exist yet; link older ones forward once; the rest is final.

    Pages to write are read from the store a run of consecutive pages at a time, in first-seen
    order, and each is rendered and handed to the writer before the next one's posts are read.
    """
    size = site.settings.site.feed_entries
    if plan.fresh:
        for old in (out.root / "archive").glob("*.atom"):
            if _ARCHIVE_FILE.match(old.name):
                remove_with_twin(old)
    if plan.ends:
        write_atomic(out.root / ARCHIVE_MARKER, str(size).encode())
    count = len(plan.ends)
    linked = 0 if plan.fresh else plan.linked
    missing = [n for n in range(1, count + 1) if not (out.root / archive_path(n)).is_file()]
    write_pages_on_both_cores(store, site, out, (plan.ends, missing))
    written = set(missing)
    for number in range(1, count + 1):
        if number in written:
            continue
        relative = archive_path(number)
        following = archive_path(number + 1) if number < count else None
        if following and number > linked:
            page = (number, out.root / relative)
            out.put(relative, _linked_forward(store, site, page, plan.ends, following))
        else:
            out.keep_final(relative)
    _save_archive_index(out.root, size, plan.ends)


def write_pages(
    store: Store,
    site: Site,
    out: Writer,
    pages: tuple[Sequence[ArchiveKey], Sequence[int]],
    *,
    spare: bool = True,
) -> None:
    """Render and write the pages ``numbers`` (of the pages ending at ``ends``), in order.

    ``spare``: keep the newest entries and posts for the editions and pages written next
    (``SpareEntries``, ``SparePosts``); not when the newest pages are another process's."""
    ends, numbers = pages
    count = len(ends)
    for number, members in _pages(store, ends, numbers):
        following = archive_path(number + 1) if number < count else None
        out.put(archive_path(number), _archive_page(site, number, members, following, spare))
        if spare:
            for post in members:
                site.spare_posts.keep(post)


@dataclass(frozen=True)
class HelperJob:
    """What a helper process needs to write archive pages exactly as this one would."""

    url: str
    site: tuple[Settings, Mapping[str, Source], Mapping[str, SourceState], TopicLabels]
    now: datetime
    root: Path
    ends: Sequence[ArchiveKey]
    numbers: Sequence[int]
    fast_atom: bool = True  # ``atom_fast.ENABLED`` in the parent: the same entry writer


def write_pages_on_both_cores(
    store: Store, site: Site, out: Writer, pages: tuple[Sequence[ArchiveKey], Sequence[int]]
) -> None:
    """``write_pages``; with many pages to write (a first publish) and a second core, the newer
    half is written by a helper process (``archive_helper``, a fresh interpreter) reading the
    same store, while this one writes the older half.  A helper that fails leaves its pages to
    this process."""
    ends, numbers = pages
    url = store.location() if len(numbers) >= HELP_FROM and (os.cpu_count() or 1) > 1 else None
    if url is None:
        write_pages(store, site, out, pages)
        return
    half = len(numbers) // 2
    theirs = numbers[half:]
    known = (site.settings, dict(site.sources), dict(site.states), site.topics)
    job = HelperJob(url, known, site.now, out.root, list(ends), list(theirs), atom_fast.ENABLED)
    helper = subprocess.Popen(
        [sys.executable, "-m", "aggregator.publish.archive_helper"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
    )
    try:
        assert helper.stdin is not None
        helper.stdin.write(pickle.dumps(job))  # our own child, reading our own records
        helper.stdin.close()
        write_pages(store, site, out, (ends, numbers[:half]), spare=False)
    finally:
        assert helper.stdout is not None
        with helper.stdout:
            answer = helper.stdout.read()
        helper.wait()
    try:
        if helper.returncode != 0:
            raise ValueError(f"exit status {helper.returncode}")
        written, unchanged = json.loads(answer)
    except ValueError as exc:  # the pages are written here
        log.warning("archive helper process failed (%s); writing its pages here", exc)
        write_pages(store, site, out, (ends, theirs))
        return
    out.written.extend(out.root / name for name in written)
    out.unchanged.extend(out.root / name for name in unchanged)


def _runs(numbers: Sequence[int]) -> Iterator[tuple[int, int]]:
    """(first, last) of each run of consecutive page numbers."""
    for _, group in groupby(enumerate(numbers), key=lambda pair: pair[1] - pair[0]):
        run = [n for _, n in group]
        yield run[0], run[-1]


def _pages(
    store: Store, ends: Sequence[ArchiveKey], numbers: Sequence[int]
) -> Iterator[tuple[int, list[Post]]]:
    """(number, posts in first-seen order) of each page in ``numbers``, streamed from the
    store one run of consecutive pages at a time; a page retention emptied comes out empty."""
    for first, last in _runs(numbers):
        after = ends[first - 2] if first > 1 else None
        number, members = first, list[Post]()
        for post in store.archive_posts(after, ends[last - 1]):
            key = _archive_key(post)
            while key > ends[number - 1]:
                yield number, members
                number, members = number + 1, []
            members.append(post)
        while number <= last:
            yield number, members
            number, members = number + 1, []


def _linked_forward(
    store: Store,
    site: Site,
    page: tuple[int, Path],
    ends: Sequence[ArchiveKey],
    following: str,
) -> bytes:
    """An existing page with its next-archive link; a page we cannot read is cut again."""
    number, path = page
    try:
        return with_next_archive(path.read_bytes(), site.url(following))
    except (OSError, etree.XMLSyntaxError):
        members = next(iter(_pages(store, ends, [number])))[1]
        return _archive_page(site, number, members, following)


def _archive_page(
    site: Site, number: int, members: Sequence[Post], following: str | None, spare: bool = False
) -> bytes:
    spec = FeedSpec(archive_path(number), f"{site.settings.site.title} (archive {number})")
    return atom_document(
        site,
        spec,
        list(reversed(members)),  # newest first, as in every feed
        archive=True,
        prev_archive=archive_path(number - 1) if number > 1 else None,
        current="feed.atom",
        next_archive=following,
        remember=False,  # each post is on one page; the members' editions may share some
        spare=spare,
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
