"""Any date spelling a feed or a listing page uses -> an aware UTC datetime, or None.

The one reader of dates.  The feedparser adapter, the lxml fast path, the JSON Feed reader and
the listing-page scraper hand it the text as the document wrote it; ``normalise`` receives the
datetimes and never reads date text again.  What enters: the text, and the source's
``day_first`` setting.  What leaves: a ``datetime`` in UTC, to the second, or ``None``.

Each rule below is a decision a reader of the site would otherwise see go wrong:

* **Zones.**  A stated offset (``+0200``, ``-03:00``, ``Z``, ``GMT+1``), zone abbreviation
  (RFC 5322's obsolete ``GMT``, ``EST``… and the European ``CET``, ``CEST``…) or IANA name
  (``Europe/Paris``, through the system's time zone database, summer time included) is
  applied.  An unknown name right after an RFC 822 time counts as UTC, as RFC 5322 section 4.3
  asks; no zone at all counts as UTC.  Fractions of a second are dropped: posts are dated to
  the second.
* **Missing, not wrong.**  Nothing before ``OLDEST_PLAUSIBLE`` (1990) is a publication date:
  ``0001-01-01``, ``1970-01-01T00:00:00Z`` and their zone-shifted copies are a CMS's empty
  value, so they read as ``None`` and the post falls back to when it was first seen.  An
  impossible date (``0000-00-00``, 30 February, 25:61) is ``None`` too, never rolled over.
* **Numeric order.**  A four-digit first number is the year (``2016/6/29``).  Otherwise a first
  number above 12 can only be a day (``25-03-2022`` is 25 March whatever the setting), a second
  number above 12 only a day in month-first order, and only a date such as ``03/04/2024``, where
  both are 12 or less, is decided by ``day_first``.
* **Two-digit years** pivot as POSIX ``strptime`` does: ``00``-``68`` are 2000-2068 and
  ``69``-``99`` are 1969-1999 (``99`` is 1999, ``24`` is 2024).
* **Names.**  Month and weekday names come from Babel's CLDR data for ``LANGUAGES`` and are
  compared without case, accents or a final dot, whole or cut after three letters or more
  (``Sept``, ``janv``, ``Mär``).  Weekday names are recognised and ignored.  A word that is
  neither a name, a zone nor one of a few joining words (``de``, ``à``, ``um``, ``th``…) makes
  the text unreadable: ``None`` rather than a guess.

The common shapes (ISO 8601 / RFC 3339, RFC 822, numeric) are each one compiled pattern; the
word-by-word reading runs only when none fits.  Results are cached by text: a feed repeats a
date in ``published`` and ``updated``, and every cycle reads the same unchanged entries again.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from aggregator.dedupe import strip_accents
from aggregator.i18n.calendar_names import Width, month_spellings, weekday_spellings

__all__ = [
    "LANGUAGES",
    "OLDEST_PLAUSIBLE",
    "TWO_DIGIT_PIVOT",
    "as_utc",
    "load_name_tables",
    "read_date",
]

#: Languages whose month and weekday names are read (CLDR codes).  Adding one is adding it here.
LANGUAGES = ("en", "fr", "es", "pt", "it", "de", "nl", "ca")
#: Earlier dates are a CMS's zero value (0001-01-01, the Unix epoch), not a publication date.
OLDEST_PLAUSIBLE = datetime(1990, 1, 1, tzinfo=UTC)
#: Two-digit years below this are 20xx, the others 19xx (POSIX ``strptime``'s ``%y``).
TWO_DIGIT_PIVOT = 69
#: Longer texts are not a date: the patterns are never run over a paragraph.
MAX_DATE_CHARS = 100

# Hours east of UTC: RFC 5322 section 4.3's obsolete zones, and the European abbreviations.
_ZONE_HOURS = {
    "ut": 0, "utc": 0, "gmt": 0, "z": 0, "est": -5, "edt": -4, "cst": -6, "cdt": -5,
    "mst": -7, "mdt": -6, "pst": -8, "pdt": -7, "ast": -4, "adt": -3, "wet": 0, "west": 1,
    "cet": 1, "cest": 2, "met": 1, "mest": 2, "eet": 2, "eest": 3,
}  # fmt: skip
# Words that join the parts of a written date ("5 de marzo de 2024", "le 5 mars à 14h30",
# "24. März um 10 Uhr", "March 5th at 3pm", "1er", "1º"): CLDR has patterns, not word lists.
_JOINERS = frozenset(
    {"de", "del", "d", "of", "the", "on", "at", "a", "as", "o", "e", "er", "st", "nd", "rd",
     "th", "le", "el", "il", "den", "am", "um", "uhr", "h", "ore", "alle", "om", "op"}
)  # fmt: skip

_TIME = (
    r"(?P<hour>\d{1,2})(?::|\s?h\s?)(?P<minute>\d{2})(?::(?P<second>\d{2}))?(?:[.,]\d+)?"
    r"(?:\s*(?P<ampm>[AaPp])\.?[Mm]\.?(?!\w))?"
)
_OFFSET = r"[+-]\d{2}(?::?\d{2})?|(?:UTC|GMT|UT)(?:[+-]\d{1,2}(?::?\d{2})?)?"
_REGION = r"[A-Za-z]+(?:/[A-Za-z0-9_+-]+)+"  # an IANA name: Europe/Paris, America/Sao_Paulo
_ZONE = rf"(?P<zone>Z|{_OFFSET}|{_REGION}|[A-Za-z]{{1,5}})"
_TIME_ZONE = rf"{_TIME}(?:\s*{_ZONE})?"
_DATE_TIME_SEP = r"(?:[Tt]|\s+|,\s*|\s+(?:at|à|a las|às|um|alle)\s+)"

_ISO = re.compile(
    rf"(?P<year>\d{{4}})(?P<sep>[-/.])(?P<month>\d{{1,2}})(?P=sep)(?P<day>\d{{1,2}})"
    rf"(?:{_DATE_TIME_SEP}{_TIME_ZONE})?",
    re.IGNORECASE,
)
_ISO_BASIC = re.compile(
    r"(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})"
    rf"(?:T(?P<hour>\d{{2}}):?(?P<minute>\d{{2}})(?::?(?P<second>\d{{2}}))?(?:[.,]\d+)?"
    rf"(?P<zone>Z|{_OFFSET})?)?",
    re.IGNORECASE,
)
_ISO_REDUCED = re.compile(r"(?P<year>\d{4})(?:-(?P<month>\d{2}))?")  # W3C-DTF "2024", "2024-03"
_RFC822 = re.compile(
    r"(?:(?P<weekday>[^\W\d_]+)\.?\s*,?\s*)?(?P<day>\d{1,2})[\s-]+(?P<name>[^\W\d_]+)\.?,?[\s-]+"
    rf"(?P<year>\d{{4}}|\d{{2}})(?:,?\s+{_TIME_ZONE})?",
    re.IGNORECASE,
)
_NUMERIC = re.compile(
    r"(?P<first>\d{1,2})(?P<sep>[-/.])(?P<second_number>\d{1,2})(?P=sep)(?P<year>\d{4}|\d{2})"
    rf"(?:{_DATE_TIME_SEP}{_TIME_ZONE})?",
    re.IGNORECASE,
)
_TIME_IN_WORDS = re.compile(rf"(?<![\d:]){_TIME}(?:\s*(?P<zone>{_OFFSET}))?(?![\d:])", re.I)
_WORD = re.compile(r"\d+|[^\W\d_]+")
_OFFSET_PARTS = re.compile(r"(?:utc|gmt|ut)?([+-])(\d{1,2})(?::?(\d{2}))?")


def read_date(text: str | None, *, day_first: bool = False) -> datetime | None:
    """``text`` as an aware UTC datetime, or None when it is absent, unreadable or a zero date.

    ``day_first`` decides numeric dates whose first two numbers could both be the month
    (``03/04/2024``): the source's setting, or for a listing page its ``date_format``.
    """
    if not text or len(text) > MAX_DATE_CHARS:
        return None
    return _read(text, day_first)


def as_utc(value: datetime | None) -> datetime | None:
    """A datetime already read, made aware UTC (naive counts as UTC); a zero date is None."""
    if value is None:
        return None
    try:
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return aware if aware >= OLDEST_PLAUSIBLE else None


@lru_cache(maxsize=4096)
def _read(text: str, day_first: bool) -> datetime | None:
    """The shapes, most common first: Atom and JSON Feed write ISO, RSS writes RFC 822."""
    text = text.strip()
    match = _ISO.fullmatch(text) or _ISO_BASIC.fullmatch(text)
    if match:
        return _at(match, int(match["year"]), int(match["month"]), int(match["day"]))
    match = _RFC822.fullmatch(text)
    if match:
        month = _month_number(match["name"])
        weekday = match["weekday"]
        if month and (weekday is None or _is_weekday(weekday)):
            year = _full_year(match["year"])
            return _at(match, year, month, int(match["day"]), lenient_zone=True)
    match = _NUMERIC.fullmatch(text)
    if match:
        return _numeric(match, day_first)
    match = _ISO_REDUCED.fullmatch(text)
    if match:
        return _utc(int(match["year"]), int(match["month"] or 1), 1)
    return _read_words(text)


def _numeric(match: re.Match[str], day_first: bool) -> datetime | None:
    """``dd/mm/yyyy`` or ``mm/dd/yyyy``: a number above 12 settles it, else ``day_first``."""
    first, second = int(match["first"]), int(match["second_number"])
    if first > 12 or (day_first and second <= 12):
        day, month = first, second
    else:
        month, day = first, second
    return _at(match, _full_year(match["year"]), month, day)


def _read_words(text: str) -> datetime | None:
    """Dates written with words, in any order: ``mardi 5 mars 2024 à 14h30``,
    ``5 de marzo de 2024``, ``24. März 2024``, ``March 5th, 2024``, asctime's
    ``Sun Jan  4 16:29:06 PST 2004``.  Exactly one month name, one day and one year."""
    folded = _fold(text)
    clock = _TIME_IN_WORDS.search(folded)
    hour = minute = second = offset = 0
    if clock:
        parts = _clock(clock.groupdict())
        offset_found = _offset_minutes(clock["zone"], lenient=False)
        if parts is None or offset_found is None:
            return None
        (hour, minute, second), offset = parts, offset_found
        folded = folded[: clock.start()] + " " + folded[clock.end() :]
    months: list[tuple[int, bool]] = []  # (month, also a weekday name)
    numbers: list[str] = []
    zones = [offset] if clock and clock["zone"] else []
    tables = _name_tables()
    for word in _WORD.findall(folded):
        if word.isdigit():
            numbers.append(word)
        elif word in tables.months:
            months.append((tables.months[word], word in tables.weekdays))
        elif word in _ZONE_HOURS:
            zones.append(_ZONE_HOURS[word] * 60)
        elif word not in tables.weekdays and word not in _JOINERS:
            return None
    month = _pick_month(months)
    ymd = _day_and_year(numbers)
    if month is None or ymd is None or len(zones) > 1:
        return None
    day, year = ymd
    return _utc(year, month, day, hour, minute, second, zones[0] if zones else 0)


def _pick_month(found: list[tuple[int, bool]]) -> int | None:
    """The one month named; a word that is also a weekday ("mar", Spanish for Tuesday and an
    abbreviation of March) counts as the month only when no other word does, and then the
    last one does: weekdays come first in every language's long date."""
    only_months = [month for month, also_weekday in found if not also_weekday]
    if len(only_months) == 1:
        return only_months[0]
    if not only_months and found:
        return found[-1][0]
    return None


def _day_and_year(numbers: list[str]) -> tuple[int, int] | None:
    """(day, year) from a day and a four-digit year in any order, or a day then two digits."""
    long = [n for n in numbers if len(n) == 4]
    short = [n for n in numbers if len(n) <= 2]
    if len(long) + len(short) != len(numbers):
        return None
    if len(long) == 1 and len(short) == 1:
        return int(short[0]), int(long[0])
    if not long and len(short) == 2:
        return int(short[0]), _full_year(short[1])
    return None


def _at(
    match: re.Match[str], year: int, month: int, day: int, *, lenient_zone: bool = False
) -> datetime | None:
    """The date of ``match`` at its time and zone (groups ``hour``… ``zone``), in UTC."""
    groups = match.groupdict()
    if groups["hour"] is None:
        return _utc(year, month, day)
    clock = _clock(groups)
    if clock is None:
        return None
    zone = groups.get("zone")
    if zone and "/" in zone:
        offset = _region_offset(zone, year, month, day, *clock)
        if offset is None and lenient_zone:
            offset = 0
    else:
        offset = _offset_minutes(zone, lenient=lenient_zone)
    if offset is None:
        return None
    return _utc(year, month, day, *clock, offset)


def _clock(groups: dict[str, Any]) -> tuple[int, int, int] | None:
    """(hour, minute, second) of a matched time's groups, or None if impossible."""
    hour, minute = int(groups["hour"]), int(groups["minute"])
    second = int(groups["second"] or 0)
    ampm = groups.get("ampm")
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm in "Pp" else 0)
    if hour > 23 or minute > 59 or second > 60:
        return None
    return hour, minute, min(second, 59)  # a leap second is the second before it


def _offset_minutes(zone: str | None, *, lenient: bool) -> int | None:
    """Minutes east of UTC; None when ``zone`` names nothing known and that is not allowed."""
    if not zone:
        return 0
    low = zone.lower()
    if low in _ZONE_HOURS:
        return _ZONE_HOURS[low] * 60
    parts = _OFFSET_PARTS.fullmatch(low)
    if parts is None:
        return 0 if lenient and low.isalpha() else None
    sign, hours, minutes = parts.groups()
    if int(hours) > 23 or int(minutes or 0) > 59:
        return None
    total = int(hours) * 60 + int(minutes or 0)
    return -total if sign == "-" else total


def _region_offset(
    zone: str, year: int, month: int, day: int, hour: int, minute: int, second: int
) -> int | None:
    """Minutes east of UTC in the IANA zone ``zone`` at that local time (summer time
    included), from the system's time zone database; None for a name it does not know."""
    try:
        local = datetime(year, month, day, hour, minute, second)
        offset = _zone(zone).utcoffset(local)
    except (ValueError, OverflowError, OSError, KeyError):  # KeyError: ZoneInfoNotFoundError
        return None
    return None if offset is None else int(offset.total_seconds()) // 60


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
    offset: int = 0,
) -> datetime | None:  # fmt: skip
    try:
        value = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        if offset:
            value -= timedelta(minutes=offset)
    except (ValueError, OverflowError):  # 30 February, month 0, year 10000 once in UTC
        return None
    return value if value >= OLDEST_PLAUSIBLE else None


def _full_year(digits: str) -> int:
    year = int(digits)
    if len(digits) > 2:
        return year
    return year + (2000 if year < TWO_DIGIT_PIVOT else 1900)


# --------------------------------------------------------------------------------------------
# Names


def _fold(text: str) -> str:
    """Lower case without accents: "Mär." -> "mar.", "Março" -> "marco"."""
    return strip_accents(text).casefold()


def _month_number(name: str) -> int | None:
    return _name_tables().months.get(_fold(name).rstrip("."))


def _is_weekday(name: str) -> bool:
    return _fold(name).rstrip(".") in _name_tables().weekdays


class _NameTables:
    """Folded month names and prefixes -> month number; folded weekday names and prefixes."""

    __slots__ = ("months", "weekdays")

    def __init__(self) -> None:
        self.months = _month_table()
        self.weekdays = _weekday_table()


@cache
def _name_tables() -> _NameTables:
    """Built on the first date written with names (ISO and numeric dates never need it)."""
    return _NameTables()


def load_name_tables() -> None:
    """Build the name tables now: a worker's warm-up, so no entry pays for it."""
    _name_tables()


def _spelling_words(name: str, *, prefixes: bool) -> set[str]:
    """The words of a CLDR name ("segunda-feira", "de gener"), without joining words, and
    with ``prefixes`` each word cut after three letters or more too ("sept", "janv")."""
    out: set[str] = set()
    for word in _WORD.findall(_fold(name)):
        if word in _JOINERS or word.isdigit():
            continue
        out.add(word)
        if prefixes:
            out.update(word[:n] for n in range(3, len(word)))
    return out


# Wide names count cut after three letters or more too; CLDR's abbreviations only as written.
_WIDTHS: tuple[tuple[Width, bool], ...] = (("wide", True), ("abbreviated", False))


def _month_table() -> dict[str, int]:
    found: dict[str, set[int]] = {}
    for language in LANGUAGES:
        for width, prefixes in _WIDTHS:
            for number, names in month_spellings(language, width).items():
                for name in names:
                    for word in _spelling_words(name, prefixes=prefixes):
                        found.setdefault(word, set()).add(number)
    # a word naming two months ("jui": juin or juillet) names none
    return {word: numbers.pop() for word, numbers in found.items() if len(numbers) == 1}


def _weekday_table() -> frozenset[str]:
    words: set[str] = set()
    for language in LANGUAGES:
        for width, prefixes in _WIDTHS:
            for name in weekday_spellings(language, width):
                words |= _spelling_words(name, prefixes=prefixes)
    return frozenset(words)
