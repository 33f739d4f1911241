"""The ``full_text`` section: reading the article behind a teaser feed.

``default`` applies to every source without its own ``full_text:`` (``auto``, ``on`` or
``off``).  It is ``off`` unless the operator says otherwise: reading article pages means
one more request per post to each member's site.  ``auto`` reads a source's articles when
its feed's recent posts are consistently short or end in an ellipsis or a read-more mark.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aggregator.config._base import Strict

FullTextMode = Literal["auto", "on", "off"]


class FullTextSettings(Strict):
    default: FullTextMode = "off"
    pages_per_cycle: int = Field(default=20, ge=0, le=1000)  # article pages read per cycle
    min_chars: int = Field(default=600, ge=0, le=100_000)  # shorter feed text is a teaser
