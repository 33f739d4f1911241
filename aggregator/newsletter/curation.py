"""What staff chose for one issue, applied to the draft: left out, featured, reordered, noted.

The choices (``store.curation.Curation``) are stored with the edition, so the console, the
CLI's ``digest preview`` and ``send``, and the scheduler all mail the same curated draft.
Everything here is a pure function of the posts, the items and the curation:

* ``without_excluded``: the posts of the window minus those staff left out;
* ``arrange``: the items in the order the email shows them: the featured one first, then the
  order staff set (items they never moved keep the default newest-first order after them);
* ``sections``: a curated issue keeps that order exactly, so items are grouped into runs of
  consecutive items with the same heading (a heading may then come twice: staff asked for
  that order), the featured item under a heading of its own;
* ``moved``: the new order after one "up" or "down" button (the no-JavaScript reorder);
* ``note_paragraphs``: the editorial note as paragraphs, each on one line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from aggregator.models import EditionRecord, Post
from aggregator.newsletter.editions import DigestItem, DigestSection, topic_heading
from aggregator.store.curation import Curation

__all__ = [
    "NOTE_LIMIT",
    "Curation",
    "arrange",
    "is_curated",
    "issue_key",
    "issue_start",
    "moved",
    "note_paragraphs",
    "sections",
    "without_excluded",
]

NOTE_LIMIT = 4000  # characters: a note is a few paragraphs, not an article


def issue_key(edition: str, window_start: datetime | None) -> str:
    """The name of one issue: its edition and the start of its window (fixed once the issue
    before it went out; ``first`` for an edition's first issue)."""
    start = (
        window_start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if window_start else "first"
    )
    return f"{edition}@{start}"


def issue_start(last: EditionRecord | None) -> datetime | None:
    """Where the draft issue's window starts, given the edition's last recorded issue."""
    if last is None:
        return None
    return last.window_start if not last.sent else last.window_end


def is_curated(curation: Curation | None) -> bool:
    """Whether staff changed the order or featured an item (exclusions alone keep the layout)."""
    return curation is not None and (bool(curation.ordering) or curation.featured is not None)


def without_excluded(posts: Sequence[Post], curation: Curation | None) -> tuple[Post, ...]:
    if curation is None or not curation.excluded:
        return tuple(posts)
    left_out = set(curation.excluded)
    return tuple(p for p in posts if p.id not in left_out)


def arrange(items: Sequence[DigestItem], curation: Curation | None) -> list[DigestItem]:
    """The items in email order, each ranked by its position (the clip drops the last first)."""
    ordered = list(items)
    if curation is not None:
        position = {pid: n for n, pid in enumerate(curation.ordering)}
        ordered.sort(key=lambda i: position.get(i.post_id, len(position)))
        if curation.featured is not None:
            ordered.sort(key=lambda i: i.post_id != curation.featured)
    return [replace(item, rank=rank) for rank, item in enumerate(ordered)]


def sections(
    items: Sequence[DigestItem],
    posts: Mapping[str, Post],
    group_by: str,
    other: str,
    *,
    featured: str | None,
    featured_heading: str,
) -> tuple[DigestSection, ...]:
    """Runs of consecutive items under one heading, in the curated order."""
    runs: list[tuple[str, list[DigestItem]]] = []
    for item in items:
        if item.post_id == featured:
            heading = featured_heading
        elif group_by == "topic":
            topics = posts[item.post_id].topics
            heading = (item.topic or topic_heading(topics[0])) if topics else other
        else:
            heading = item.organisation or other
        if runs and runs[-1][0] == heading:
            runs[-1][1].append(item)
        else:
            runs.append((heading, [item]))
    return tuple(DigestSection(h, tuple(run)) for h, run in runs)


def moved(order: Sequence[str], post_id: str, step: int) -> tuple[str, ...]:
    """``order`` with ``post_id`` moved ``step`` places (-1 up, +1 down), within the ends."""
    ids = list(order)
    if post_id not in ids:
        return tuple(ids)
    here = ids.index(post_id)
    there = max(0, min(len(ids) - 1, here + step))
    ids.insert(there, ids.pop(here))
    return tuple(ids)


def note_paragraphs(note: str) -> tuple[str, ...]:
    """Paragraphs split at blank lines, each flattened to one line; empty when no note."""
    blocks = note.replace("\r\n", "\n").split("\n\n")
    return tuple(" ".join(block.split()) for block in blocks if block.strip())
