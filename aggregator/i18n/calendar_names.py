"""Month and weekday names as people write them, per language, from Babel's CLDR data.

What enters: a language code.  What leaves: every spelling CLDR knows for each month and each
weekday (wide and abbreviated, "format" and "stand-alone" forms) as plain strings.

The date reader (``ingest/dates.py``) builds its lookup tables from these, so a feed written in
Portuguese or German is read with the same names a Portuguese or German calendar prints, and no
one keeps a hand-typed list of "janvier, février…" in step with the CLDR.  Babel is imported
here and by ``templating`` only: the ``i18n`` folder owns it.
"""

from __future__ import annotations

from typing import Literal

from babel.dates import get_day_names, get_month_names

__all__ = ["Width", "month_spellings", "weekday_spellings"]

Width = Literal["wide", "abbreviated"]
_Context = Literal["format", "stand-alone"]
_CONTEXTS: tuple[_Context, ...] = ("format", "stand-alone")


def month_spellings(language: str, width: Width) -> dict[int, tuple[str, ...]]:
    """Month number (1-12) -> its CLDR names in ``language`` at ``width`` (``"wide"`` or
    ``"abbreviated"``), "format" form first ("de març" in Catalan), then "stand-alone"."""
    out: dict[int, list[str]] = {}
    for context in _CONTEXTS:
        for number, name in get_month_names(width, context, language).items():
            spellings = out.setdefault(int(number), [])
            if name not in spellings:
                spellings.append(name)
    return {number: tuple(names) for number, names in sorted(out.items())}


def weekday_spellings(language: str, width: Width) -> tuple[str, ...]:
    """Every CLDR name of the seven weekdays in ``language`` at ``width``, Monday first."""
    out: list[str] = []
    for context in _CONTEXTS:
        for _, name in sorted(get_day_names(width, context, language).items()):
            if name not in out:
                out.append(name)
    return tuple(out)
