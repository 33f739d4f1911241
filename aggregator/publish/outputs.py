"""Text fit for every published format, and the writer every output file goes through.

``clean_text`` and ``clean_line`` drop what XML 1.0 cannot carry, since feedgen raises on ESC or
BEL and a lone surrogate cannot even be encoded to UTF-8; ``clean_name`` gives feeds' and
members' names the cleaning entry titles get (entities decoded, markup dropped).  The files
themselves are written by ``aggregator.files`` (atomic and change-only, so readers never see
half a file and an unchanged feed keeps its ETag); ``write_atomic`` and ``BatchWriter`` are
re-exported here so that publish's modules take their text rules and their writer from one
place.
"""

from __future__ import annotations

from aggregator.files import BatchWriter, gzip_twin, remove_with_twin, write_atomic
from aggregator.present.text import clean_line, clean_name, clean_text

__all__ = [
    "BatchWriter",
    "clean_line",
    "clean_name",
    "clean_text",
    "gzip_twin",
    "remove_with_twin",
    "write_atomic",
]

# Text outputs get a gzip twin; images are compressed already.
GZIP_SUFFIXES = frozenset(
    {".atom", ".rss", ".json", ".opml", ".html", ".css", ".xml", ".txt", ".svg"}
)
GZIP_LEVEL = 1  # see docs/performance.md ("publish"): 5:1 on our XML, at 4x the speed of level 6
