"""Words of ``feeds.yaml`` that readers see in their language: ``{en: …, fr: …, es: …}``.

A topic, an organisation's name, its short name and a feed's name may be written once (a plain
string, shown to everyone) or per language.  Every stage that does not show words (the store,
matching, logs) reads one default string; ``split_labels`` turns the mapping form into that
default plus the mapping, before validation, so both spellings of the file read the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aggregator.config._base import LANG_RE

# The language whose label stands for the others where one string is needed (logs, the store,
# the OPML list): English when given, else the first one written.
DEFAULT_LABEL_LANGUAGE = "en"


def default_label(labels: Mapping[str, str]) -> str:
    """The one string a label mapping stands for where no reader's language is known."""
    if DEFAULT_LABEL_LANGUAGE in labels:
        return labels[DEFAULT_LABEL_LANGUAGE]
    return next(iter(labels.values()), "")


def split_labels(data: dict[str, Any], field: str, into: str) -> dict[str, Any]:
    """``field: {en: A, fr: B}`` -> ``field: A`` and ``into: {en: A, fr: B}``; strings stay.

    A value of another shape is left where it is, so that the field's own type reports it
    with its line.
    """
    value = data.get(field)
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        return data
    labels = {str(k): v.strip() for k, v in value.items()}
    return {**data, field: default_label(labels), into: labels}


def check_labels(labels: dict[str, str], field: str) -> dict[str, str]:
    """Every key a language tag, every label non-empty: a typo names the field it came from."""
    for lang, label in labels.items():
        if not LANG_RE.match(lang):
            raise ValueError(f"{field}: not a language tag such as 'en' or 'fr': {lang!r}")
        if not label:
            raise ValueError(f"{field}: the label for {lang!r} is empty")
    return labels


def pick_label(labels: Mapping[str, str], language: str | None, fallback: str) -> str:
    """The label for ``language`` (``fr-CA`` reads ``fr``), else ``fallback``."""
    if not labels or not language:
        return fallback
    lang = language.lower()
    return labels.get(lang) or labels.get(lang.split("-")[0]) or fallback
