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
import re
import unicodedata
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


_TOKENS: dict[str, dict[str, str]] = {}  # per language key: lower-case word -> token
_TOKENS_MAX = 200_000


def index_text(language: str, text: str) -> str:
    """Plain text as the space-separated tokens FTS5 stores for it.

    Every post of a cycle goes through here: a plain dict per language remembers each word's
    token (lower-cased first, so ``Ville`` and ``ville`` share an entry), which halved the
    cost of indexing against calling ``stem_word`` per word.
    """
    key = language_key(language)
    cache = _TOKENS.get(key)
    if cache is None or len(cache) > _TOKENS_MAX:
        cache = _TOKENS[key] = {}
    found = _WORD.findall(text[:MAX_INDEXED_CHARS].lower())
    get = cache.get
    tokens = [get(w) or cache.setdefault(w, stem_word(key, w)) for w in found]
    return " ".join(tokens)


def post_tokens(post: Post) -> tuple[str, str]:
    """The index tokens of a post's title and of its body (text, tags, authors' names).

    Computed in the cycle's worker processes (``ingest.process``) and handed to the store
    with the post, as the dedupe keys are: the parent process writes, it does not stem.
    """
    return index_text(post.language, post.title), index_text(post.language, post_text(post))


def post_text(post: Post) -> str:
    """The body text PostgreSQL indexes: the text, the tags, the authors' names."""
    names = " ".join(a.name for a in post.authors)
    content = document_text(post.content_html) if post.content_html else post.excerpt
    return f"{content} {' '.join(post.tags)} {names}"


def document_text(content_html: str) -> str:
    """The readable text of sanitized HTML, for indexing: tags out, entities read."""
    spaced = _BLOCK.sub(" ", content_html[: MAX_INDEXED_CHARS * 2])
    return html.unescape(_TAG.sub("", spaced))
