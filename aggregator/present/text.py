"""Text fit for every published format: pages, feeds and the digest alike.

``clean_text`` and ``clean_line`` drop what XML 1.0 cannot carry, since feedgen raises on ESC or
BEL and a lone surrogate cannot even be encoded to UTF-8; ``clean_name`` gives feeds' and
members' names the cleaning entry titles get (entities decoded, markup dropped).
"""

from __future__ import annotations

import re
from functools import lru_cache

from aggregator.ingest.normalise import clean_title

__all__ = ["clean_line", "clean_name", "clean_text"]

# XML 1.0 forbids C0 controls except tab/LF/CR, surrogates and U+FFFE/U+FFFF; C1 controls and
# DEL are allowed but only ever come from mis-decoded text, so they go too.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ANY_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_SPACES = re.compile(r"\s+")


def clean_text(value: str | None) -> str:
    """Drop what XML 1.0 cannot carry; a lone surrogate becomes U+FFFD so the gap shows.

    Every published format (Atom, RSS, OPML, JSON, HTML) goes through this: feedgen raises on
    ESC or BEL, and a lone surrogate cannot even be encoded to UTF-8.
    """
    if not value:
        return ""
    if _all_printable(value) or _ANY_BAD.search(value) is None:  # the common cases: no copy
        return value
    return _NOT_XML.sub("", _SURROGATE.sub("\ufffd", value))


def _all_printable(value: str) -> bool:
    """A quick proof that nothing needs dropping: every character we drop is non-printable.

    False only means "ask the regex" (a no-break space is legitimate yet not printable); why
    this shortcut exists is in docs/performance.md ("publish").
    """
    if "\n" in value or "\t" in value or "\r" in value:
        value = value.replace("\n", " ").replace("\t", " ").replace("\r", " ")
    return value.isprintable()


def clean_line(value: str | None) -> str:
    """A title or a name: cleaned and on one line (feed readers show CR/LF literally)."""
    if not value:
        return ""
    if "  " not in value and value.isprintable():  # nothing to drop, no run of spaces to fold
        return value.strip()
    return _SPACES.sub(" ", clean_text(value)).strip()


@lru_cache(maxsize=4096)  # a network has a few hundred names, each shown beside many posts
def clean_name(value: str | None) -> str:
    """A feed's or a member's name: the cleaning entry titles get, then one line.

    Feed titles are stored as the member's feed spells them, and names in ``feeds.yaml`` are
    often copied from there (``feeds add`` proposes the feed's title): a double-escaped
    ``Región &amp;amp; Municipios`` arrives as ``Región &amp; Municipios``.  Entities are
    decoded and markup dropped here, so that the XML writer escapes the name exactly once.
    """
    return clean_line(clean_title(value)) if value else ""
