"""Bylines and author records -> the authors a post names.

What enters: the entry's plain text (one line per paragraph), and the ``Author`` records the
feed and the entry state.  What leaves: a tuple of clean ``Author`` records, and the text
without its leading byline.  The listing pages in ``shared/seeds`` show why the byline matters:
many members write "By A – Org, B – Org." at the top of the post instead of filling in the
author field, and many CMSs fill that field with "admin".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from aggregator.ingest.plaintext import fold, plain_line
from aggregator.ingest.sanitize import truncate
from aggregator.ingest.urls import absolute_url
from aggregator.models import Author

__all__ = ["MAX_AUTHORS", "choose_authors", "clean_authors", "split_byline"]

MAX_AUTHORS = 12


_BYLINE_START = re.compile(
    r"^\s*(?:(?:written\s+)?by|par|por|per|(?:author|autor|autora|auteur|auteure)\s*:)\s*:?\s+",
    re.IGNORECASE,
)
_PARTICLES = frozenset(
    {"de", "del", "della", "der", "den", "van", "von", "da", "di", "du", "la", "le", "dos",
     "das", "e", "y", "i", "bin", "al", "el", "ter", "of", "for", "and", "at", "the", "et",
     "en", "des", "on", "in", "d'", "l'"}
)  # fmt: skip
_ABBREVIATIONS = frozenset(
    {"dr", "mr", "mrs", "ms", "prof", "st", "jr", "sr", "sra", "dra", "mme", "mlle", "m",
     "pr", "inc", "ltd", "co", "no", "vs", "ph.d", "h.e"}
)  # fmt: skip
# Words that make a comma-separated part of a byline an affiliation, not another person.
_ROLE_WORDS = frozenset(
    {"mayor", "maire", "alcalde", "alcaldesa", "president", "président", "presidente",
     "présidente", "vice-president", "vice-président", "vicepresidente", "ceo", "director",
     "directora", "directeur", "directrice", "secretary", "secretaria", "secrétaire", "officer",
     "manager", "manaher", "head", "chair", "coordinator", "coordinadora", "coordinateur",
     "coordinatrice", "advisor", "adviser", "conseiller", "conseillère", "consejero",
     "consejera", "researcher", "professor", "profesor", "profesora", "deputy", "councillor",
     "councilor", "concejal", "concejala", "minister", "ministre", "ministro", "ambassador",
     "expert", "specialist", "team", "department", "unit", "association", "network", "city",
     "ville", "ciudad", "council", "government", "governments", "municipality", "office",
     "programme", "program", "project", "uclg", "cglu", "cemr", "platforma", "communication",
     "communications", "journalist", "editor", "founder", "member", "staff", "general",
     "spokesperson", "portavoz", "officer,", "university", "université", "universidad"}
)  # fmt: skip
_DASHES = ("–", "—", "-")
_DASH_SPLIT = re.compile(r"\s+[–—-]\s+")
_AND_SPLIT = re.compile(r"\s+(?:and|et|y|e|&)\s+")
_MAX_BYLINE_CHARS = 300


def _core(token: str) -> str:
    return token.strip(",;:.()“”\"'«»")


def _is_titlecase(token: str) -> bool:
    core = _core(token)
    return bool(core) and core[0].isupper() and any(ch.islower() for ch in core)


def _is_lower_word(token: str) -> bool:
    core = _core(token)
    return bool(core) and core[0].islower() and core.casefold() not in _PARTICLES


def _is_sentence_end(token: str) -> bool:
    if not token.endswith("."):
        return False
    core = token.rstrip(".").strip(",;:()“”\"'«»")
    return len(core) > 1 and core.casefold() not in _ABBREVIATIONS and "." not in core


def _byline_end(tokens: list[str]) -> tuple[int, int]:
    """Where the byline in ``tokens`` stops: (tokens in the byline, index the text resumes).

    A byline stops at a full stop that is not an initial or an abbreviation, or before a
    capitalised word followed by an ordinary lower-case word ("… CEO VVSG For many
    municipalities"), except at the start of a comma-separated part, where such a pair
    begins an affiliation ("…, Policy officer at UCLG").
    """
    part_start = True
    for i, token in enumerate(tokens):
        if _is_sentence_end(token):
            return i + 1, i + 1
        next_lower = i + 1 < len(tokens) and _is_lower_word(tokens[i + 1])
        plain_word = not token.endswith((",", ";", ":", ")"))
        if not part_start and plain_word and _is_titlecase(token) and next_lower:
            return i, i
        part_start = token.endswith((",", ";")) or token in _DASHES
    return len(tokens), len(tokens)


def _looks_like_name(part: str) -> bool:
    tokens = part.split()
    if not 1 <= len(tokens) <= 5:
        return False
    for i, token in enumerate(tokens):
        core = _core(token)
        low = core.casefold()
        if low in _ROLE_WORDS:
            return False
        is_initial = len(core) <= 2 and core[:1].isupper()
        is_particle = low in _PARTICLES and i > 0
        if not (_is_titlecase(core) or is_initial or is_particle):
            return False
    return True


def _authors_from_byline(byline: str) -> tuple[Author, ...]:
    authors: list[Author] = []
    for raw_part in re.split(r"\s*[,;]\s*", byline.strip().rstrip(".")):
        part = raw_part.strip()
        if not part:
            continue
        pieces = _DASH_SPLIT.split(part, maxsplit=1)
        names = _AND_SPLIT.split(pieces[0])
        if len(pieces) == 2 and all(_looks_like_name(n) for n in names):
            affiliation = pieces[1].strip() or None
            authors.extend(Author(name=n.strip(), affiliation=affiliation) for n in names)
            continue
        names = _AND_SPLIT.split(part)
        if all(_looks_like_name(n) for n in names):
            authors.extend(Author(name=n.strip()) for n in names)
        elif authors:
            last = authors[-1]
            aff = f"{last.affiliation}, {part}" if last.affiliation else part
            authors[-1] = replace(last, affiliation=aff)
        else:
            return ()
    return tuple(authors[:MAX_AUTHORS])


def split_byline(text: str) -> tuple[tuple[Author, ...], str]:
    """Find a byline at the start of ``text`` and return (its authors, the text without it).

    Handles the forms the seeds show: "By A – Org, B – Org, C - Org.", "by: A, B, C",
    "By X, UCLG communication officer", "By Flore Thoreau La Salle, Project Manager of … Une
    rencontre…", and "Par …" / "Por …".  ``text`` has one line per paragraph; a byline never
    runs past its line.  When the start does not look like a person ("By 2030, cities…",
    "Por último…"), nothing is taken.
    """
    match = _BYLINE_START.match(text)
    if match is None:
        return (), text
    line, newline, rest = text[match.end() :].partition("\n")
    tokens = line.split()
    if not tokens or not (_is_titlecase(tokens[0]) or len(_core(tokens[0])) == 1):
        return (), text
    used, resume = _byline_end(tokens)
    byline = " ".join(tokens[:used])
    if not byline or len(byline) > _MAX_BYLINE_CHARS:
        return (), text
    if resume == len(tokens) and not newline and len(line) > 120:
        return (), text  # one long paragraph with no visible end: not sure it is a byline
    authors = _authors_from_byline(byline)
    if not authors:
        return (), text
    remainder = " ".join(tokens[resume:])
    body = f"{remainder}\n{rest}" if remainder and rest else remainder or rest
    return authors, body.strip()


# --------------------------------------------------------------------------------------------
# Authors

_EMAIL_NAME = re.compile(r"^\s*(\S+@\S+)\s*\((.+)\)\s*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_GENERIC_ACCOUNTS = frozenset(
    {"admin", "administrator", "administrateur", "administrador", "webmaster", "editor",
     "wordpress", "root", "user", "unknown", "anonymous", "author"}
)  # fmt: skip


def clean_authors(authors: Iterable[Author]) -> tuple[Author, ...]:
    """Names as plain text, RSS's "mail@host (Name)" split, bare addresses and CMS accounts
    ("admin") dropped (they are not bylines and must not be mailed to every subscriber),
    duplicates removed."""
    seen: set[str] = set()
    out: list[Author] = []
    for author in authors:
        name = plain_line(author.name)
        email = author.email.strip() if author.email and _EMAIL.match(author.email) else None
        paired = _EMAIL_NAME.match(name)
        if paired:
            email, name = email or paired.group(1), paired.group(2).strip()
        if not name or _EMAIL.match(name) or fold(name) in _GENERIC_ACCOUNTS:
            continue
        key = fold(name)
        if key in seen:
            continue
        seen.add(key)
        affiliation = plain_line(author.affiliation) or None
        uri = absolute_url(author.uri) if author.uri else None
        out.append(Author(name=truncate(name, 120), affiliation=affiliation, uri=uri, email=email))
    return tuple(out[:MAX_AUTHORS])


def choose_authors(
    entry_authors: tuple[Author, ...],
    byline_authors: tuple[Author, ...],
    feed_authors: tuple[Author, ...],
) -> tuple[Author, ...]:
    """The entry's authors, else the byline's, else the feed's.

    The byline comes before the feed's authors (a deliberate change from "feed then byline"):
    a feed-level author is only the default every entry inherits (often the organisation),
    while a byline names the people who wrote this post.
    """
    return clean_authors(entry_authors) or byline_authors or clean_authors(feed_authors)
