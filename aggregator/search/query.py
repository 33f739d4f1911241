"""What a visitor typed -> a ``Query``, and the Query as each backend's search expression.

The syntax is the one people already type into web search boxes: words (all must appear),
``"a phrase"``, ``-word`` or ``-"a phrase"`` to exclude, ``word*`` for a prefix.  Nothing
typed can reach either database's query language: words are split with the same rule as
the index (letters and digits), then quoted (FTS5) or written as plain lexemes (tsquery).

Recall across word forms: each single word also matches its singular and plural spellings
(``ciudad``/``ciudades``, ``bureau``/``bureaux``), because Snowball stems some pairs apart
(Spanish ``ciudad`` -> ``ciud``, ``ciudades`` -> ``ciudad``).  Common words (``les``,
``the``, ``de``) are dropped from a query of other words, so a post is not missed for
lacking one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aggregator.search.text import fold, stem_word, words

MAX_TERMS = 12  # a longer query is cut: its extra words would only narrow the results
_CHUNK = re.compile(r'(-?)"([^"]*)"?|(-?)(\S+)')

# Our own short lists of the words too common to search for, folded.
_COMMON_WORDS = (
    "a an and are as at be by for from in is it of on or that the to was were with "
    "au aux avec ce ces dans de des du elle en est et il la le les leur mais ne ou par "
    "pas pour qui que sa se son sont sur un une d l qu "
    "al como con del el ellos es las lo los para por su sus y una unos"
)
_COMMON = frozenset(_COMMON_WORDS.split())


@dataclass(frozen=True, slots=True)
class Term:
    """One thing to find: a word (``words`` of one), or a phrase of adjacent words."""

    words: tuple[str, ...]
    negated: bool = False
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    terms: tuple[Term, ...]

    @property
    def positive(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if not t.negated)

    @property
    def empty(self) -> bool:
        """Nothing to look for (a query of exclusions only finds nothing, by design)."""
        return not self.positive


def parse_query(text: str) -> Query:
    """Read a visitor's query; never raises, whatever was typed."""
    text = " ".join(text.split())[:500]
    terms: list[Term] = []
    for quoted_neg, quoted, bare_neg, bare in _CHUNK.findall(text):
        raw = quoted if quoted_neg or quoted or not bare else bare
        found = tuple(words(raw))
        if not found:
            continue
        negated = bool(quoted_neg or bare_neg)
        prefix = not quoted and bare.endswith("*") and len(found) == 1
        terms.append(Term(found, negated, prefix))
    return Query(text, tuple(_drop_common(terms)[:MAX_TERMS]))


def _drop_common(terms: list[Term]) -> list[Term]:
    kept = [t for t in terms if len(t.words) > 1 or fold(t.words[0]) not in _COMMON]
    return kept if any(not t.negated for t in kept) else terms


def number_variants(word: str) -> tuple[str, ...]:
    """The word and its likely singular/plural spellings in en/fr/es (4 letters or more)."""
    folded = fold(word)
    if len(folded) < 4 or not folded.isalpha():
        return (folded,)
    found = [folded]
    if folded.endswith("es"):
        found += [folded[:-1], folded[:-2]]
    elif folded.endswith(("s", "x")):
        found.append(folded[:-1])
    else:
        found += [folded + "s", folded + "es"]
        if folded.endswith(("au", "eu")):
            found.append(folded + "x")
    return tuple(dict.fromkeys(found))


def term_tokens(term: Term, language: str) -> tuple[str, ...]:
    """The index tokens a single-word term matches in ``language`` (a language key)."""
    if term.prefix:  # the stem of what was typed: ``élection*`` finds ``elect…``
        return (stem_word(language, term.words[0]),)
    return tuple(dict.fromkeys(stem_word(language, v) for v in number_variants(term.words[0])))


def _fts_term(term: Term, languages: Sequence[str]) -> str:
    if len(term.words) > 1:
        phrases = [" ".join(stem_word(lang, w) for w in term.words) for lang in languages]
        return _any(f'"{p}"' for p in phrases)
    tokens = [tok for lang in languages for tok in term_tokens(term, lang)]
    star = " *" if term.prefix else ""
    return _any(f'"{tok}"{star}' for tok in dict.fromkeys(tokens))


def _any(parts: Iterable[str]) -> str:
    joined = " OR ".join(parts)
    return f"({joined})"


def fts_match(query: Query, languages: Sequence[str]) -> str | None:
    """The FTS5 MATCH expression finding ``query`` in posts of ``languages``; None if empty."""
    if query.empty or not languages:
        return None
    found = " AND ".join(_fts_term(t, languages) for t in query.positive)
    excluded = [_fts_term(t, languages) for t in query.terms if t.negated]
    return f"({found}) NOT {_any(excluded)}" if excluded else found


def _ts_term(term: Term) -> str:
    if len(term.words) > 1:
        text = " <-> ".join(fold(w) for w in term.words)
    elif term.prefix:
        text = f"{fold(term.words[0])}:*"  # PostgreSQL stems a prefix before matching
    else:
        text = " | ".join(number_variants(term.words[0]))
    return f"!({text})" if term.negated else f"({text})"


def tsquery_text(query: Query) -> str | None:
    """Input for PostgreSQL's ``to_tsquery(config, …)``; the configuration stems it.

    Words are letters and digits only (split as the index splits them), so nothing typed
    can be read as tsquery syntax.
    """
    if query.empty:
        return None
    return " & ".join(_ts_term(t) for t in query.terms)
