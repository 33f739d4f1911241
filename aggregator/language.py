"""Language tags: normalising what feeds declare, and detecting what they do not.

This is the only module that imports py3langid (a numpy port of langid.py, with its model
shipped inside the wheel: nothing is downloaded).  It was chosen because detection can be
restricted to the site's languages, which is what makes short titles reliable: asked "English,
French or Spanish?" rather than "which of 97 languages?", it labels 60+ of our own short
titles and teasers correctly (``tests/data/language/labelled.tsv``).

The model is loaded once per process on first use (about half a second); a restricted view per
set of allowed languages shares its arrays, and a detection then costs about 0.2 ms.

Tags are reduced to their lower-case primary subtag ("en-GB" -> "en", "pt_BR" -> "pt"): sites,
editions and filters group posts by language, not by region, and a feed's region is more often
a CMS default than a statement about the post.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

MIN_LETTERS = 12  # below this, a guess is noise ("Migration" is English, French and German)
MIN_CONFIDENCE = 0.80

_TAG_RE = re.compile(r"^\s*([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*\s*$")
_LOCK = threading.Lock()
_MODEL: list[Any] = []


def normalise_tag(value: str | None) -> str | None:
    """The lower-case primary language subtag of ``value``, or ``None`` when it is not a tag."""
    if not value:
        return None
    match = _TAG_RE.match(value)
    if match is None:
        return None
    primary = match.group(1).lower()
    return None if primary in ("und", "mul", "zxx", "mis") else primary


def _full_model() -> Any:
    with _LOCK:
        if not _MODEL:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            # 0.4 loads ``model.npz.xz`` with from_model_file; 0.2/0.3 a pickle.
            load = (
                getattr(LanguageIdentifier, "from_model_file", None)
                or LanguageIdentifier.from_pickled_model
            )
            _MODEL.append(load(MODEL_FILE, norm_probs=True))
        return _MODEL[0]


@lru_cache(maxsize=16)
def _restricted(allowed: frozenset[str]) -> Any:
    model = _full_model()
    known = set(model.nb_classes)
    usable = sorted(allowed & known)
    if not usable:
        return None
    view = copy.copy(model)  # shallow: the big arrays are shared, set_languages rebinds them
    view.set_languages(usable)
    return view


def detect_with_confidence(text: str, allowed: Sequence[str]) -> tuple[str | None, float]:
    """The most likely language of ``text`` among ``allowed`` and the model's confidence."""
    codes = frozenset(t for t in (normalise_tag(a) for a in allowed) if t)
    if not codes:
        return None, 0.0
    if sum(map(str.isalpha, text[:2000])) < MIN_LETTERS:
        return None, 0.0
    if len(codes) == 1:  # nothing to choose between: let the source's language decide
        return None, 0.0
    view = _restricted(codes)
    if view is None:
        return None, 0.0
    lang, confidence = view.classify(text[:2000])
    return str(lang), float(confidence)


def detect(text: str, allowed: Sequence[str]) -> str | None:
    """The language of ``text`` among ``allowed``, or ``None`` when unsure.

    Unsure means too few letters to judge or a confidence below ``MIN_CONFIDENCE``; the caller
    then falls back to the source's configured language.
    """
    lang, confidence = detect_with_confidence(text, allowed)
    return lang if confidence >= MIN_CONFIDENCE else None
