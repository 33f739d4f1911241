"""Entry by entry, what a document may keep: oversized entries cut out before any parser runs,
the incomplete last entry of a truncated document, and entries with nothing in them.

What enters: the defused document text (for the two text-level rules) or the mapped
``ParsedEntry`` records (for the empty rule), and the list the parse stage collects its
warnings in.  What leaves: the text or the entries without the ones dropped, and one warning per
rule applied, which ``feeds check`` and the member preview show.

Why each rule, one entry at a time rather than the whole document refused:

* an entry larger than ``MAX_ENTRY_CHARS`` is cut out of the text, so one 20 MiB post (an
  inlined video, a runaway export) neither costs its siblings nor feeds the parsers megabytes of
  markup they would spend seconds on (its fields would be cut to ``fields.MAX_HTML_CHARS``
  anyway);
* a document cut short in transfer ends inside its last entry: that entry is half a post, with
  a title cut mid-word and no link, so it is dropped and the complete entries before it kept;
* an entry with no title, no web link and no text would become a post titled with the source's
  name, pointing at its home page: nothing a reader could read or follow.  An enclosure counts
  as a link (a podcast episode without a title is still an episode).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence

from aggregator.models import ParsedEntry

__all__ = ["MAX_ENTRY_CHARS", "drop_empty_entries", "drop_oversized_entries", "ends_inside_entry"]

#: An entry (from its start tag to its end tag) longer than this is dropped before parsing.
MAX_ENTRY_CHARS = 4_000_000

# An RSS item or Atom entry tag (any namespace prefix), or the start of a CDATA section or a
# comment, whose end is then found with ``str.find`` so that a tag written inside one is
# skipped and an unterminated one costs one scan, not one per later tag.
_ENTRY_TAG = re.compile(
    r"<!\[CDATA\[|<!--|<(/?)(?:[A-Za-z_][\w.-]*:)?(?:item|entry)(?=[\s/>])[^<>]{0,4096}?(/?)>"
)
_SKIPPED_UNTIL = {"<![CDATA[": "]]>", "<!--": "-->"}
# The end of what holds the entries: the channel, the feed, the root.
_CONTAINER_END = re.compile(r"</(?:[A-Za-z_][\w.-]*:)?(?:channel|feed|rss|RDF)\s*>")
_WEB = ("http://", "https://")
_HIDDEN = re.compile(r"<(script|style)\b.*?</\1\s*>", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][^>]*>|<!--.*?-->", re.DOTALL)


def _entry_tags(text: str) -> Iterator[tuple[str, int, int]]:
    """Each entry tag in document order: ("start" | "end" | "empty", where it starts, ends)."""
    position = 0
    while match := _ENTRY_TAG.search(text, position):
        opened = match.group(0)
        if opened in _SKIPPED_UNTIL:
            end = text.find(_SKIPPED_UNTIL[opened], match.end())
            if end < 0:
                return  # the rest of the document is inside it
            position = end + len(_SKIPPED_UNTIL[opened])
            continue
        closing, self_closing = match.groups()
        kind = "end" if closing else "empty" if self_closing else "start"
        yield kind, match.start(), match.end()
        position = match.end()


def drop_oversized_entries(text: str, warnings: list[str]) -> str:
    """``text`` without the entries longer than ``MAX_ENTRY_CHARS``, each one dropped noted.

    Only a document longer than the limit is scanned; an entry whose end tag is missing is
    left to the parsers (they read what they can of a malformed document).
    """
    if len(text) <= MAX_ENTRY_CHARS:
        return text
    cuts: list[tuple[int, int]] = []
    start = -1
    for kind, begin, end in _entry_tags(text):
        if kind == "start":
            start = begin
        elif kind == "end" and start >= 0:
            if end - start > MAX_ENTRY_CHARS:
                cuts.append((start, end))
            start = -1
    if not cuts:
        return text
    for begin, end in cuts:
        warnings.append(
            f"an entry of {end - begin:,} characters was dropped "
            f"(at most {MAX_ENTRY_CHARS:,} per entry); the others were kept"
        )
    pieces, previous = [], 0
    for begin, end in cuts:
        pieces.append(text[previous:begin])
        previous = end
    pieces.append(text[previous:])
    return "".join(pieces)


def ends_inside_entry(text: str) -> bool:
    """True when the document stops inside its last entry: that entry's start tag is the last
    entry tag, and nothing after it closes the channel, feed or root.

    An entry missing only its own end tag before ``</channel>`` is whole, so it is not counted.
    """
    last = None
    for last in _entry_tags(text):  # noqa: B007  (the last one is wanted)
        pass
    if last is None or last[0] != "start":
        return False
    return _CONTAINER_END.search(text, last[2]) is None


def drop_empty_entries(entries: Sequence[ParsedEntry], warnings: list[str]) -> list[ParsedEntry]:
    """The entries that have a title, a link or some text; a warning counts the others."""
    kept = [entry for entry in entries if not _is_empty(entry)]
    dropped = len(entries) - len(kept)
    if dropped:
        warnings.append(
            f"{dropped} {'entry' if dropped == 1 else 'entries'} with no title, no link "
            "and no text dropped"
        )
    return kept


def _is_empty(entry: ParsedEntry) -> bool:
    """No title, no web link (an Atom ``urn:`` id is no page to follow) and no text.

    The title is looked at first: nearly every entry has one, and then nothing else is.
    """
    if _has_text(entry.title):
        return False
    for href in (entry.link, *(link.href for link in entry.links)):
        if href and href[:8].lower().startswith(_WEB):
            return False
    return not (_has_text(entry.summary) or _has_text(entry.content))


def _has_text(markup: str | None) -> bool:
    """Whether ``markup`` shows any text once tags, scripts and entities are gone."""
    if not markup:
        return False
    if "<" not in markup and "&" not in markup:
        return not markup.isspace()
    visible = _TAG.sub("", _HIDDEN.sub("", markup))
    return bool(html.unescape(visible).strip())
