"""Search: the words of a post and of a query, made comparable across accents and word forms.

Enters: a post's language and text, or what a visitor typed.  Leaves: index tokens (folded,
stemmed with the post's language, prefixed with it: ``fr_vill``), a parsed ``Query``, the
FTS5 ``MATCH`` string or PostgreSQL ``tsquery`` text that finds it, and safely highlighted
text for the results.  No I/O: the store (``store/search.py``) writes and reads the index,
the web (``web/search.py``) and the CLI show it.

Why words are prepared here and not by the database: SQLite's FTS5 has no stemmer for French
or Spanish, and one tokenizer for every row; folding and stemming each post in its own
language in Python (PyStemmer, the Snowball stemmers) lets one index serve every language.
PostgreSQL does the same in SQL with a text search configuration per language that runs
``unaccent`` before the Snowball stemmer (migration 0007); both read the same ``Query``.
"""

from __future__ import annotations

from aggregator.search.highlight import highlight
from aggregator.search.query import Query, Term, fts_match, parse_query, tsquery_text
from aggregator.search.records import SORTS, SearchRequest, SearchResults
from aggregator.search.text import (
    body_text,
    document_text,
    fold,
    index_text,
    language_key,
    post_text,
    post_tokens,
    stem_word,
    tokens_digest,
)

__all__ = [
    "SORTS",
    "Query",
    "SearchRequest",
    "SearchResults",
    "Term",
    "body_text",
    "document_text",
    "fold",
    "fts_match",
    "highlight",
    "index_text",
    "language_key",
    "parse_query",
    "post_text",
    "post_tokens",
    "stem_word",
    "tokens_digest",
    "tsquery_text",
]
