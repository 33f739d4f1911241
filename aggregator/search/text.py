"""From text to index tokens: fold accents, split words, stem in the post's language.

The order matters: folding comes first, then stemming, as PostgreSQL's ``unaccent`` runs
before its stemmer.  A visitor who types ``elections`` and a post that says ``élections``
then reach the same stem, where stemming first would leave the accented stem on one side
only (Snowball's French rules read accents: ``publiées`` and ``publiees`` stem apart).

Each token carries its language (``fr_vill``): a French post's ``villes`` and an English
post's ``villes`` are different words, and a query searches each language with its own
stems.  Languages without a Snowball stemmer are folded only.

This module owns PyStemmer.
"""

from __future__ import annotations

import html
import os
import re
import unicodedata
import zlib
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import Stemmer

from aggregator.models import Post

# ISO 639-1 code -> Snowball algorithm (PyStemmer's names); the languages py3langid detects
# that Snowball covers.
SNOWBALL = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german",
    "el": "greek", "en": "english", "es": "spanish", "et": "estonian", "eu": "basque",
    "fa": "persian", "fi": "finnish", "fr": "french", "ga": "irish", "hi": "hindi",
    "hu": "hungarian", "hy": "armenian", "id": "indonesian", "it": "italian",
    "lt": "lithuanian", "ne": "nepali", "nl": "dutch", "no": "norwegian", "nb": "norwegian",
    "pl": "polish", "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian",
    "sv": "swedish", "ta": "tamil", "tr": "turkish",
}  # fmt: skip

# Letters NFKD leaves whole but a reader expects to match their spelled-out forms.
_SPELLED = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "đ": "d", "ł": "l"})
_WORD = re.compile(r"\w+")
_TAG = re.compile(r"<[^>]*>")
_BLOCK = re.compile(r"</?(p|div|li|h[1-6]|br|tr|td|blockquote|section|article)\b[^>]*>", re.I)
# A post's text beyond this is not indexed: the first pages of an article carry its subject,
# and the cost of indexing a 2 MB page would fall on the cycle.
MAX_INDEXED_CHARS = 30_000


def language_key(language: str) -> str:
    """The primary subtag, lower case letters only: ``pt-BR`` -> ``pt``; ``und`` for none."""
    key = re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]
    return key if key.isalpha() and key.isascii() else "und"


@lru_cache(maxsize=65536)
def fold(word: str) -> str:
    """Lower case without accents: ``Élections`` -> ``elections``; ``Œuvre`` -> ``oeuvre``."""
    lowered = word.casefold().translate(_SPELLED)
    if lowered.isascii():
        return lowered
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=64)
def _stemmer(language: str) -> Any:
    algorithm = SNOWBALL.get(language)
    return Stemmer.Stemmer(algorithm, 20000) if algorithm else None


@lru_cache(maxsize=262144)
def stem_word(language: str, word: str) -> str:
    """The index token of one word in ``language`` (a language key): ``fr_vill``."""
    folded = fold(word)
    stemmer = _stemmer(language)
    return f"{language}_{stemmer.stemWord(folded) if stemmer else folded}"


def words(text: str) -> list[str]:
    """The words of plain text, as a reader would split them (apostrophes and hyphens split)."""
    return _WORD.findall(text)


# The speed path's one switch (docs/performance.md): AGGREGATOR_FAST_TOKENS=0 makes every
# text go through ``reference_index_text``, the definition, word by word.
FAST_TOKENS = os.environ.get("AGGREGATOR_FAST_TOKENS", "1") != "0"

_PIECES: dict[str, dict[str, str]] = {}  # per language key: piece of text -> its tokens
_PIECES_MAX = 100_000  # per language; then the dictionary starts again (memory stays bounded)
_PIECE_MAX_CHARS = 48  # longer pieces (unspaced scripts, URLs) are worked out, not kept


def index_text(language: str, text: str) -> str:
    """Plain text as the space-separated tokens FTS5 stores for it.

    Equal to ``reference_index_text`` (``tests/test_search_text.py`` compares them), and
    cheaper: every post of a cycle comes through here, and the reference's regular expression
    walks each character (about 25 ns a character with the Unicode word test).  Here the text
    is split at white space, which no word contains, and each piece (``Ville,``) is looked up
    whole in a dictionary of the pieces already seen in that language, which holds its tokens
    each after a space (`` fr_vill``; a piece without a word holds nothing), so that they are
    simply concatenated and the first space dropped (every token starts with its language, never
    with a space: one can end with one, a mark NFKD folds to a space); ``str.split``, the
    look-ups and the join run in C.  Only a piece not seen yet is lower-cased, split into words
    and stemmed.
    """
    if not FAST_TOKENS:
        return reference_index_text(language, text)
    key = language_key(language)
    pieces = text[:MAX_INDEXED_CHARS].split()
    known = _PIECES.get(key)
    if known is None or len(known) > _PIECES_MAX:
        known = _PIECES[key] = {}
    try:
        return "".join(map(known.__getitem__, pieces))[1:]
    except KeyError:  # a piece not seen yet in this language
        pass
    found: dict[str, str] = {}
    for piece in set(pieces):
        tokens = known.get(piece)
        if tokens is None:
            tokens = "".join([f" {stem_word(key, w)}" for w in _WORD.findall(piece.lower())])
            if len(piece) <= _PIECE_MAX_CHARS:
                known[piece] = tokens
        found[piece] = tokens
    return "".join(map(found.__getitem__, pieces))[1:]


def reference_index_text(language: str, text: str) -> str:
    """What ``index_text`` computes, by definition: the text lower-cased, split into words by
    ``words``' rule, each word stemmed in the language (``stem_word``)."""
    key = language_key(language)
    return " ".join(stem_word(key, w) for w in _WORD.findall(text[:MAX_INDEXED_CHARS].lower()))


def post_tokens(post: Post) -> tuple[str, str]:
    """The index tokens of a post's title and of its body (text, tags, authors' names).

    Computed in the cycle's worker processes (``ingest.process``) and handed to the store
    with the post, as the dedupe keys are: the parent process writes, it does not stem.
    """
    return index_text(post.language, post.title), index_text(post.language, post_text(post))


def post_text(post: Post) -> str:
    """The body text PostgreSQL indexes: the text, the tags, the authors' names."""
    names = [a.name for a in post.authors]
    return body_text(post.content_html, post.excerpt, post.tags, names)


def body_text(content_html: str, excerpt: str, tags: Iterable[str], names: Iterable[str]) -> str:
    """``post_text`` from a post's stored fields (the store recomputes a stored post's tokens
    without building the whole post)."""
    content = document_text(content_html) if content_html else excerpt
    return f"{content} {' '.join(tags)} {' '.join(names)}"


def tokens_digest(title: str, body: str) -> int:
    """A 63-bit fingerprint of a post's index tokens, kept beside them in the store.

    SQLite's index keeps no copy of the tokens (revision 0011): taking a post out means
    handing the index the very tokens it was given, recomputed from the stored post.  The
    store compares this fingerprint first, so a post whose tokens would now come out
    differently (the stemmer changed, the row was rewritten first) is never "deleted" with
    tokens the index does not hold, which would corrupt it.  CRC-32 beside the length: the
    mismatches to catch are accidents of versions, not adversaries, and this costs about
    2 µs a post where a cryptographic digest cost five.
    """
    data = f"{title}\x00{body}".encode()
    return (len(data) & 0x7FFFFFFF) << 32 | zlib.crc32(data)


def document_text(content_html: str) -> str:
    """The readable text of sanitized HTML, for indexing: tags out, entities read."""
    spaced = _BLOCK.sub(" ", content_html[: MAX_INDEXED_CHARS * 2])
    return html.unescape(_TAG.sub("", spaced))
