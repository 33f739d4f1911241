"""Which catalog a reader's language tag reads, and which offered language a browser prefers.

A tag is reduced to its base language (``fr-CA`` reads French, as the page sets and feed
editions group regional variants); a language without a catalog reads English, the language
the network's interface was first written in.
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_LANGUAGE = "en"
# The languages readers can meet; each has a catalog under ``locale/``.
LANGUAGES: tuple[str, ...] = ("en", "fr", "es")


def base_language(tag: str | None) -> str:
    """'fr-CA' -> 'fr', 'es_ES' -> 'es', None -> ''."""
    return (tag or "").replace("_", "-").split("-")[0].strip().lower()


def supported(tag: str | None) -> str:
    """The catalog language for a tag: its base language when there is a catalog, else English."""
    base = base_language(tag)
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


def preferred_language(accept_language: str | None, offered: Sequence[str]) -> str:
    """The first of ``offered`` that a browser's ``Accept-Language`` asks for (highest q-value
    first, then the browser's order), else the first offered one (else English).  A regional
    variant matches its base language: ``fr-BE`` is served ``fr``."""
    wanted: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = _quality(params)
        if tag.strip() and quality > 0:
            wanted.append((-quality, position, base_language(tag)))
    bases = {base_language(lang): lang for lang in offered}
    for _, _, base in sorted(wanted):
        if base in bases:
            return bases[base]
    return offered[0] if offered else DEFAULT_LANGUAGE


def _quality(params: str) -> float:
    """The ``q=`` of one Accept-Language item (RFC 9110 §12.4.2); 1 when absent, 0 when bad."""
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return 0.0
            return quality if 0.0 <= quality <= 1.0 else 0.0
    return 1.0
