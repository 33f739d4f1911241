"""What a search asks the store for and what it gets back: frozen records, as elsewhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aggregator.models import Post
from aggregator.search.query import Query

SORTS = ("relevance", "date")


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """One page of results for ``query`` among the posts the filters leave.

    ``languages``: the language keys to search (each post is matched with the query stemmed
    in its own language); empty means every language the store holds.
    """

    query: Query
    languages: tuple[str, ...] = ()
    organisation: str | None = None
    topic: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    sort: str = "relevance"
    limit: int = 20
    offset: int = 0


@dataclass(frozen=True, slots=True)
class SearchResults:
    """The page of posts found, best first (or newest first), and how many there are."""

    total: int
    posts: tuple[Post, ...]
    languages: tuple[str, ...]  # the language keys that were searched
