"""Dates, numbers and language names as each reader's language writes them, through Babel's
CLDR data.

Every function takes a reader's language tag and formats in its catalog language
(``languages.supported``), so a page for ``fr-CA`` and a digest for ``fr`` spell a date the same
way, and a language without a catalog gets English dates to go with its English words.  Dates
are formatted once per day and language: a page set shows hundreds of posts from a few dozen days.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as _babel_format_date
from babel.numbers import format_decimal as _babel_format_decimal

from aggregator.i18n.languages import supported

# The seeds' day-first form, 25/03/2022, kept in every language: the captures of the network's
# blog show it so, and readers of all three languages read it the same way.
NUMERIC_PATTERN = "dd/MM/yyyy"


def numeric_date(value: datetime | date, language: str | None) -> str:
    """'25/03/2022' (the pattern above, with the same digits in en, fr and es)."""
    return _day(_as_date(value), NUMERIC_PATTERN, supported(language))


def long_date(value: datetime | date, language: str | None) -> str:
    """'March 25, 2022', '25 mars 2022', '25 de marzo de 2022': CLDR's long date."""
    return _day(_as_date(value), "long", supported(language))


def number(value: int | float, language: str | None) -> str:
    """'1,234' in English, '1 234' in French, '1.234' in Spanish; small counts as they are."""
    return str(_babel_format_decimal(value, locale=supported(language)))


@lru_cache(maxsize=64)
def autonym(tag: str) -> str:
    """A language's name in itself, as a language switch shows it: 'English', 'Français',
    'Español'; the tag itself when CLDR does not know it."""
    try:
        name = Locale.parse(tag.replace("-", "_")).get_display_name()
    except (UnknownLocaleError, ValueError):
        return tag
    return name[:1].upper() + name[1:] if name else tag


def _as_date(value: datetime | date) -> date:
    """The calendar day of a datetime as it stands (callers convert to the site's zone first)."""
    return value.date() if isinstance(value, datetime) else value


@lru_cache(maxsize=8192)
def _day(day: date, pattern: str, language: str) -> str:
    return str(_babel_format_date(day, format=pattern, locale=language))
