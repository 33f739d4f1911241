"""Language tags: normalising what feeds declare, and detecting what they do not.

This is the only module that imports py3langid (a numpy port of langid.py, with its model
shipped inside the wheel: nothing is downloaded).  It was chosen because detection can be
restricted to the site's languages, which is what makes short titles reliable: asked "English,
French or Spanish?" rather than "which of 97 languages?", it labels 60+ of our own short
titles and teasers correctly (``tests/data/language/labelled.tsv``).

The model ships xz-compressed, and decompressing it costs about 0.6 s of CPU in every process that
detects: each cycle's worker processes, every CLI run.  So the first load for a set of allowed
languages writes that restricted model, uncompressed, to a cache directory
(``AGGREGATOR_CACHE_DIR``, else ``$XDG_CACHE_HOME/localgov-aggregator``, else
``~/.cache/localgov-aggregator``) and later processes read it in about 0.1 s.  The cache holds
plain arrays read with ``allow_pickle=False`` (a tampered file cannot run code), is keyed by the
py3langid version, the model file and the languages, is written atomically, and any problem with
it falls back to the shipped model.
Detection reads at most ``MAX_DETECT_CHARS`` characters and then costs about 0.1 ms.

Tags are reduced to their lower-case primary subtag ("en-GB" -> "en", "pt_BR" -> "pt"): sites,
editions and filters group posts by language, not by region, and a feed's region is more often
a CMS default than a statement about the post.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import re
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from aggregator.files import replacing

MIN_LETTERS = 12  # below this, a guess is noise ("Migration" is English, French and German)
MIN_CONFIDENCE = 0.80
# Three site languages are told apart well within a teaser's first sentences, and the model's
# cost grows with every byte it walks (about 0.25 us per character): a title plus a whole
# 300-character excerpt cost twice as much as this, for the same answers on the labelled set
# and on 6,000 benchmark posts (120 characters already changed 2 of those).
MAX_DETECT_CHARS = 160

log = logging.getLogger(__name__)

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
    """The model restricted to ``allowed`` (the codes it knows), from the cache when possible."""
    cached = _load_cached(allowed)
    if cached is not None:
        return cached
    model = _full_model()
    known = set(model.nb_classes)
    usable = sorted(allowed & known)
    if not usable:
        return None
    view = copy.copy(model)  # shallow: the big arrays are shared, set_languages rebinds them
    view.set_languages(usable)
    _save_cached(allowed, view)
    return view


# --------------------------------------------------------------------------------------------
# The restricted-model cache (py3langid 0.4's model layout; other versions skip it)

_CACHE_ARRAYS = ("ptc", "pc", "classes", "nextmove", "row", "output")


def cache_dir() -> Path:
    """Where restricted models are cached (see the module docstring)."""
    configured = os.environ.get("AGGREGATOR_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "localgov-aggregator"


def _cache_path(allowed: frozenset[str]) -> Path | None:
    """The cache file for ``allowed``, named after everything that would change its content."""
    try:
        from importlib.metadata import version

        from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

        if not hasattr(LanguageIdentifier, "from_model_file"):
            return None  # before 0.4 the model was a pickle with another layout
        model = Path(MODEL_DIR) / MODEL_FILE
        stat = model.stat()
        key = f"{version('py3langid')}|{model}|{stat.st_size}|{stat.st_mtime_ns}|"
        key += ",".join(sorted(allowed))
    except Exception:  # an older layout or an odd install: no cache, the shipped model
        return None
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return cache_dir() / f"langid-{digest}.npz"


def _load_cached(allowed: frozenset[str]) -> Any:
    path = _cache_path(allowed)
    if path is None or not path.is_file():
        return None
    try:
        import numpy as np
        from py3langid.langid import LanguageIdentifier

        with path.open("rb") as handle, np.load(handle, allow_pickle=False) as data:
            arrays = {name: data[name] for name in _CACHE_ARRAYS}
        return LanguageIdentifier(
            arrays["ptc"],
            arrays["pc"],
            [str(c) for c in arrays["classes"]],
            _stdlib_array(arrays["nextmove"]),
            arrays["output"].tolist(),
            norm_probs=True,
            tk_row=_stdlib_array(arrays["row"]),
        )
    except Exception as exc:  # unreadable, truncated, or another py3langid: rebuild it
        log.info("language model cache %s not used: %s", path, exc)
        return None


def _save_cached(allowed: frozenset[str], view: Any) -> None:
    path = _cache_path(allowed)
    if path is None or not hasattr(view, "tk_row"):
        return
    try:
        import numpy as np

        arrays = {
            "ptc": np.ascontiguousarray(view.nb_ptc),
            "pc": np.asarray(view.nb_pc),
            "classes": np.array(list(view.nb_classes)),
            "nextmove": np.frombuffer(view.tk_nextmove, dtype=_dtype(view.tk_nextmove)),
            "row": np.frombuffer(view.tk_row, dtype=_dtype(view.tk_row)),
            "output": np.asarray(view.tk_output, dtype=np.int32),
        }
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with replacing(path, mode=0o600) as out:  # readers see the old file or the whole new one
            np.savez(out, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds badly
    except Exception as exc:  # a read-only home, a full disk: detection works without it
        log.info("language model cache %s not written: %s", path, exc)


# py3langid keeps its DFA in stdlib arrays: item size -> (array typecode, numpy dtype)
_ARRAY_TYPES = {2: ("H", "<u2"), 4: ("I", "<u4"), 8: ("L", "<u8")}


def _dtype(values: Any) -> str:
    """The numpy dtype of a stdlib ``array``."""
    return _ARRAY_TYPES[values.itemsize][1]


def _stdlib_array(values: Any) -> Any:
    from array import array

    out = array(_ARRAY_TYPES[values.dtype.itemsize][0])
    out.frombytes(memoryview(values).cast("B"))  # no intermediate bytes copy
    return out


def detect_with_confidence(text: str, allowed: Sequence[str]) -> tuple[str | None, float]:
    """The most likely language of ``text`` among ``allowed`` and the model's confidence."""
    codes = frozenset(t for t in (normalise_tag(a) for a in allowed) if t)
    if not codes:
        return None, 0.0
    sample = _sample(text)
    if sum(map(str.isalpha, sample)) < MIN_LETTERS:
        return None, 0.0
    if len(codes) == 1:  # nothing to choose between: let the source's language decide
        return None, 0.0
    view = _restricted(codes)
    if view is None:
        return None, 0.0
    lang, confidence = view.classify(sample)
    return str(lang), float(confidence)


def _sample(text: str) -> str:
    """At most ``MAX_DETECT_CHARS`` characters of ``text``, cut at a space when there is one."""
    if len(text) <= MAX_DETECT_CHARS:
        return text
    cut = text.rfind(" ", MAX_DETECT_CHARS // 2, MAX_DETECT_CHARS + 1)
    return text[: cut if cut > 0 else MAX_DETECT_CHARS]


def detect(text: str, allowed: Sequence[str]) -> str | None:
    """The language of ``text`` among ``allowed``, or ``None`` when unsure.

    Unsure means too few letters to judge or a confidence below ``MIN_CONFIDENCE``; the caller
    then falls back to the source's configured language.
    """
    lang, confidence = detect_with_confidence(text, allowed)
    return lang if confidence >= MIN_CONFIDENCE else None
