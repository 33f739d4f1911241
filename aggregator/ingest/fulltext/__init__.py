"""Full text: the article behind a teaser feed, read from the member's own page.

Enters: the settings (``full_text`` per source, or the section's default), the store's posts
waiting for their article and ``now``.  Leaves: posts whose content is the article (sanitized
like all content, the excerpt taken from it) and a ``FullTextReport``.

* ``decide``: pure: is a post a teaser, does a source want its articles (``auto``: its recent
  posts are consistently short or end in an ellipsis), is what was read the article and
  longer than the feed's own text (a full feed content is never replaced);
* ``boilerplate``: the blocks a source's pages share (menus, banners, "related news"), found
  by comparing its pages and removed before extraction (owns lxml here);
* ``extract``: the article's paragraphs (owns trafilatura, chosen by measurement:
  docs/decisions.md);
* ``run``: the I/O: the guarded fetcher (the cycle's limits, politeness and address checks),
  the store.  Runs after each cycle (``cycle.fetch_and_publish``) and from
  ``aggregator fulltext``, which also re-reads stored posts.
"""

from __future__ import annotations

from aggregator.ingest.fulltext.run import (
    FullTextReport,
    expand_full_text,
    full_text_sources,
    read_articles,
)

__all__ = ["FullTextReport", "expand_full_text", "full_text_sources", "read_articles"]
