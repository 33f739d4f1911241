"""The warnings of a feed's preview, in the member's language.

What enters: the warnings the parser attached to a feed (``ParsedFeed.warnings``: one English
line each) and the member's language.  What leaves: each warning as a sentence in that
language, for the preview page of ``/submit``.

Why it reads English lines: the parser states its warnings as sentences for the operator's
log and command line, and it is being split into a package; the few shapes it writes are
recognised here by their stable beginnings, keeping the two apart.  A warning of a shape not
known here becomes a general sentence in the member's language followed by the English line,
so the member still learns that something was worked around.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from aggregator.i18n import N_, Translator, translator

__all__ = ["preview_warning"]

_Rule = tuple[re.Pattern[str], Callable[[Translator, re.Match[str]], str]]


def _kept(t: Translator, match: re.Match[str]) -> str:
    total, kept = int(match.group(1)), int(match.group(2))
    return t.ngettext(
        "The feed holds %(total)s entries; we keep the newest %(num)s.",
        "The feed holds %(total)s entries; we keep the newest %(num)s.",
        kept,
        total=t.number(total),
    )


def _skipped(t: Translator, match: re.Match[str]) -> str:
    count = int(match.group(1))
    return t.ngettext(
        "%(num)s empty item on the page was skipped.",
        "%(num)s empty items on the page were skipped.",
        count,
    )


def _cut(t: Translator, match: re.Match[str]) -> str:
    limit = int(match.group(1))
    return t.gettext(
        "An entry's text was longer than %(limit)s characters and was cut.",
        limit=t.number(limit),
    )


def _fixed(message: str) -> Callable[[Translator, re.Match[str]], str]:
    def sentence(t: Translator, match: re.Match[str]) -> str:
        return t.gettext(message)

    return sentence


_RULES: tuple[_Rule, ...] = (
    (
        re.compile(r"^(\d+) (?:entries in the document|items on the page); kept the newest (\d+)"),
        _kept,
    ),
    (re.compile(r"^(\d+) empty items on the page were skipped"), _skipped),
    (re.compile(r"^an entry \w+ longer than (\d+) characters was cut"), _cut),
    (
        re.compile(r"^an entry \w+ nested deeper than \d+ was made text"),
        _fixed(N_("The markup of an entry was nested too deep; it is shown as plain text.")),
    ),
    (
        re.compile(r"^declared character encoding"),
        _fixed(
            N_(
                "The feed declares the wrong character encoding; we read it as well as we can, "
                "but some accented letters may look wrong."
            )
        ),
    ),
    (
        re.compile(r"^removed a DOCTYPE with an internal subset"),
        _fixed(N_("The feed declares entities in a DOCTYPE; we removed it and never expand them.")),
    ),
    (
        re.compile(r"^feed is not well-formed XML"),
        _fixed(N_("The feed is not well-formed XML; we read what we can of it.")),
    ),
)


def preview_warning(warning: str, language: str | None) -> str:
    """One parser warning as a sentence in ``language`` (see the module docstring)."""
    t = translator(language)
    for pattern, sentence in _RULES:
        match = pattern.match(warning)
        if match is not None:
            return sentence(t, match)
    return t.gettext(
        "The feed has a minor problem that we worked around: %(detail)s", detail=warning
    )
