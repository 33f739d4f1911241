"""Language tags: normalising what feeds declare, and detecting what they do not.

This is the only module that imports py3langid (a numpy port of langid.py, with its model
shipped inside the wheel: nothing is downloaded), pinned to 0.4: its model, its calibrated
probabilities and its array layout are what this module and ``docs/languages.md`` measured.

Detection runs among *every* language the model knows (142 labels), and the answer is then
read against the site's languages.  Restricted to the site's languages, as it once was, the
model was always "confident": asked "English, French or Spanish?", Portuguese came out Spanish
and Dutch English, and those posts landed in the wrong edition.  Asked among all, it files every
one of 421 news posts in ten languages correctly (``tests/data/language/labelled.jsonl``, where
the restricted model filed 127).

How sure a detection is depends on what it decides:

* a site language on top: how sure among the site's languages (the model's probabilities
  renormalised over them), because what follows is which edition.  Short Spanish titles share
  their probability with Extremaduran, Aragonese and Galician, all far from 0.8 of the whole,
  yet they are surely Spanish rather than English or French;
* another language on top: its probability against all the site's languages together, because
  what follows is whether the post belongs in any edition at all.

A few labels are read as the tag a site would use (``SITE_TAGS``: Egyptian Arabic as ``ar``,
Ancient Greek as ``el``...), and "no linguistic content" is no answer.

The model ships xz-compressed, and decompressing it costs about 0.9 s of CPU in every process
that detects: each cycle's worker processes, every CLI run.  So the first load writes it,
uncompressed, to a cache directory (``AGGREGATOR_CACHE_DIR``, else
``$XDG_CACHE_HOME/localgov-aggregator``, else ``~/.cache/localgov-aggregator``; about 95 MB), one
``.npy`` file per array.  Later processes memory-map the 38 MB tokenizer automaton, shared by
every process of the machine through the page cache, and read the probability table (stored as
float32, 57 MB, since converting the shipped float16 rows cost every detection 23 us) one row at
a time, the first time a text holds its feature (``_Rows``): a cycle of English, French and
Spanish posts reads about a thousand of its 100,053 rows.  The cache holds plain arrays read
with ``allow_pickle=False`` (a tampered file cannot run code), is keyed by the py3langid version
and the model file, each file is written atomically, and any problem with it falls back to the
shipped model.  Detection reads at most ``MAX_DETECT_CHARS`` characters and then costs about
0.1 ms.

Tags are reduced to their lower-case primary subtag ("en-GB" -> "en", "pt_BR" -> "pt"): sites,
editions and filters group posts by language, not by region, and a feed's region is more often
a CMS default than a statement about the post.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from aggregator.files import replacing

MIN_LETTERS = 12  # below this, a guess is noise ("Migration" is English, French and German)
MIN_CONFIDENCE = 0.80
# A teaser's first sentences tell languages apart, and the model's cost grows with every byte it
# walks: a title plus a whole 300-character excerpt cost twice as much as this, for the same
# answers on the labelled posts (120 characters already left five of them unsure).
MAX_DETECT_CHARS = 160

# Detector labels a site files under another tag: varieties of a macrolanguage, and ancient
# forms of a modern language (a news post in "Ancient Greek" is a Greek post the model misread).
SITE_TAGS = {
    "ary": "ar",
    "arz": "ar",
    "wuu": "zh",
    "yue": "zh",
    "uzs": "uz",
    "gug": "gn",
    "sdh": "ku",
    "fuv": "ff",
    "ltg": "lv",
    "grc": "el",
    "hbo": "he",
}
NO_LANGUAGE = "zxx"  # the model's label for text without linguistic content

log = logging.getLogger(__name__)

_TAG_RE = re.compile(r"^\s*([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*\s*$")
_LOCK = threading.Lock()


def normalise_tag(value: str | None) -> str | None:
    """The lower-case primary language subtag of ``value``, or ``None`` when it is not a tag."""
    if not value:
        return None
    match = _TAG_RE.match(value)
    if match is None:
        return None
    primary = match.group(1).lower()
    return None if primary in ("und", "mul", "zxx", "mis") else primary


@lru_cache(maxsize=64)
def site_codes(languages: tuple[str, ...]) -> frozenset[str]:
    """The primary subtags of the site's ``languages`` (malformed entries are left out)."""
    return frozenset(t for t in (normalise_tag(a) for a in languages) if t)


# --------------------------------------------------------------------------------------------
# The model, and the model read as tags


def _shipped_model() -> Any:
    """The model as py3langid ships it (xz-compressed: about 0.9 s of CPU to open)."""
    from py3langid.langid import MODEL_FILE

    return _identifier_class().from_model_file(MODEL_FILE, norm_probs=True)


# --------------------------------------------------------------------------------------------
# The speed path: the model's automaton walked a word at a time (docs/performance.md)

# Its one switch: AGGREGATOR_FAST_DETECT=0 gives py3langid's own identifier, the reference.
FAST_DETECT = os.environ.get("AGGREGATOR_FAST_DETECT", "1") != "0"
_WALKS_MAX = 20_000  # remembered (state, word) walks per process; then it starts again


@lru_cache(maxsize=1)
def _identifier_class() -> Any:
    """py3langid's ``LanguageIdentifier``, or with ``FAST_DETECT`` a subclass whose scoring
    reads each word's features from a memo instead of walking the automaton byte by byte."""
    from py3langid.langid import LanguageIdentifier

    if not FAST_DETECT:
        return LanguageIdentifier

    class MemoIdentifier(LanguageIdentifier):  # type: ignore[misc]
        __slots__ = ("_walks",)

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._walks: dict[tuple[int, bytes], tuple[int, tuple[int, ...]]] = {}

        def _raw_score(self, text: bytes) -> Any:
            visits = _visits(self, text)
            if visits:
                return self._sparse_score(visits, self.nb_ptc)
            return super()._raw_score(text)  # no feature at all: the model's own answer

    return MemoIdentifier


def _visits(model: Any, data: bytes) -> Counter[int] | None:
    """The model's features of ``data`` and how often each occurs: what py3langid's
    ``visit_counts`` returns, in the same order, so the scores are the same to the bit.

    The automaton is a 39 MB table, and each byte of a text reads one entry of it: in a
    worker, between one post's detection and the next, those entries have left the CPU's
    caches, and a detection cost about 190 us, half of it in that walk.  The walk is a
    function of the state it starts in and the bytes it reads, so the walk of a word and the
    space after it, from a given state, is remembered: a text is then a few dozen look-ups.
    """
    walks = model._walks
    if len(walks) > _WALKS_MAX:
        walks.clear()
    moves, rows, outputs = model.tk_nextmove, model._rowbase, model.tk_output
    pieces = data.split(b" ")
    last = pieces.pop()
    state = 0
    found: list[int] = []
    for piece in pieces:  # each one followed by a space
        key = (state, piece)
        walked = walks.get(key)
        if walked is None:
            walked = walks[key] = _walk(moves, rows, outputs, state, piece + b" ")
        state, features = walked
        found += features
    found += _walk(moves, rows, outputs, state, last)[1]
    return Counter(found) if found else None


def _walk(
    moves: Any, rows: Any, outputs: Any, state: int, data: bytes
) -> tuple[int, tuple[int, ...]]:
    """py3langid's automaton walk over ``data`` from ``state``: the state it ends in and the
    features it passed, in order."""
    features: list[int] = []
    for byte in data:
        state = moves[rows[state] + byte]
        feature = outputs[state]
        if feature >= 0:
            features.append(feature)
    return state, tuple(features)


class _Reader:
    """The model and how its labels read as tags: ``tags[i]`` is the tag of column ``i`` of
    ``probabilities``, which adds up the model's columns that read as one tag."""

    __slots__ = ("_masks", "merge", "model", "tags")

    def __init__(self, model: Any) -> None:
        import numpy as np

        labels = [str(c) for c in model.nb_classes]
        self.model = model
        self.tags = tuple(dict.fromkeys(SITE_TAGS.get(c, c) for c in labels))
        column = {tag: i for i, tag in enumerate(self.tags)}
        self.merge = np.zeros((len(labels), len(self.tags)), dtype=np.float32)
        for row, label in enumerate(labels):
            self.merge[row, column[SITE_TAGS.get(label, label)]] = 1.0
        self._masks: dict[frozenset[str], Any] = {}

    def probabilities(self, sample: str) -> Any:
        """The probability of each of ``tags`` for ``sample``, adding up to 1."""
        # ``_decide`` is the vector behind classify() and rank(); rank() would sort it into 142
        # pairs first, about 20 us more per entry
        return self.model._decide(sample) @ self.merge

    def mask(self, site: frozenset[str]) -> Any:
        """1 for the tags in ``site``, 0 elsewhere: ``probabilities @ mask`` is the site's share."""
        found = self._masks.get(site)
        if found is None:
            import numpy as np

            found = np.array([tag in site for tag in self.tags], dtype=np.float32)
            self._masks[site] = found
        return found


_READER: list[_Reader] = []


def _reader() -> _Reader:
    """The whole model, from the cache when possible; loaded once per process."""
    with _LOCK:
        if not _READER:
            model = _load_cached()
            if model is None:
                model = _shipped_model()
                _save_cached(model)
            _READER.append(_Reader(model))
        return _READER[0]


def forget_model() -> None:
    """Drop the loaded model, so the next detection loads it again (tests of the cache)."""
    with _LOCK:
        _READER.clear()


# --------------------------------------------------------------------------------------------
# The model cache (py3langid 0.4's model layout)

_CACHE_ARRAYS = ("ptc", "pc", "classes", "nextmove", "row", "output")
# The tables read in place (memory-mapped); the small ones are read into memory.
_MAPPED = frozenset({"ptc", "nextmove"})


def cache_dir() -> Path:
    """Where the uncompressed model is cached (see the module docstring)."""
    configured = os.environ.get("AGGREGATOR_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "localgov-aggregator"


def cache_paths() -> dict[str, Path] | None:
    """The cache's files, one per array, named after everything that would change them."""
    try:
        from importlib.metadata import version

        from py3langid.langid import MODEL_DIR, MODEL_FILE

        model = Path(MODEL_DIR) / MODEL_FILE
        stat = model.stat()
        key = f"{version('py3langid')}|{model}|{stat.st_size}|{stat.st_mtime_ns}|all|f32"
    except Exception:  # an odd install: no cache, the shipped model
        return None
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return {name: cache_dir() / f"langid-{digest}-{name}.npy" for name in _CACHE_ARRAYS}


def _load_cached() -> Any:
    paths = cache_paths()
    if paths is None or not all(path.is_file() for path in paths.values()):
        return None
    try:
        import numpy as np

        arrays = {
            name: np.load(path, mmap_mode="r" if name in _MAPPED else None, allow_pickle=False)
            for name, path in paths.items()
            if name != "ptc"
        }
        return _identifier_class()(
            _Rows(paths["ptc"]),
            arrays["pc"],
            [str(c) for c in arrays["classes"]],
            # read item by item as a stdlib array would be, from the mapped pages
            memoryview(arrays["nextmove"]),
            arrays["output"].tolist(),
            norm_probs=True,
            tk_row=_stdlib_array(arrays["row"]),
        )
    except Exception as exc:  # unreadable, truncated, or another py3langid: rebuild it
        log.info("language model cache %s not used: %s", paths["ptc"].parent, exc)
        return None


class _Rows:
    """The probability table of the cache, each row read from its file when first needed.

    py3langid reads the table only as ``table[features]``: the rows of the features a text
    holds, a few dozen of 100,053.  Memory-mapped, each row read mapped sixteen pages around it
    (the kernel maps the neighbouring pages already cached on every fault, ``madvise`` or not):
    a cycle of 20,000 English, French and Spanish entries touched 1,100 rows, 2.8 MB of pages,
    and held 18 MB of the table.  Read with ``pread`` into a private array, the rows cost their
    own bytes (568 each) in the processes that use them.  Rows are kept in the order first
    read, so they fill pages one after the other; the array is reserved but not touched, and
    anonymous memory is not faulted in around a page.  Forked workers inherit the rows their
    fork server read, and read the others themselves (their own copies: the mapping is
    private).
    """

    __slots__ = ("_count", "_fd", "_lock", "_offset", "_path", "_pid", "_rows", "_slot", "shape")

    def __init__(self, path: Path) -> None:
        import mmap

        import numpy as np

        with path.open("rb") as file:
            major, _ = np.lib.format.read_magic(file)
            read_header = (
                np.lib.format.read_array_header_1_0
                if major == 1
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(file)
            self._offset = file.tell()
        if len(shape) != 2 or fortran or dtype != np.dtype("<f4"):
            raise ValueError(f"{path.name}: not a float32 table")
        if path.stat().st_size != self._offset + shape[0] * shape[1] * 4:
            raise ValueError(f"{path.name}: truncated")
        self.shape: tuple[int, int] = (int(shape[0]), int(shape[1]))
        self._path = path
        self._fd = -1
        self._pid = 0
        self._lock = threading.Lock()
        reserved = mmap.mmap(
            -1, max(1, shape[0] * shape[1] * 4), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
        )
        self._rows = np.frombuffer(reserved, dtype=np.float32).reshape(self.shape)
        self._slot = np.full(self.shape[0], -1, dtype=np.int32)  # feature -> row of _rows
        self._count = 0

    @property
    def read(self) -> int:
        """How many rows this process has read (or inherited) so far."""
        return self._count

    def __getitem__(self, features: Any) -> Any:
        slots = self._slot[features]
        if (slots < 0).any():
            slots = self._read(features, slots)
        return self._rows[slots]

    def _read(self, features: Any, slots: Any) -> Any:
        import numpy as np

        row_bytes = self.shape[1] * 4
        with self._lock:
            if self._pid != os.getpid():  # this process's own descriptor, not a parent's
                self._fd = os.open(self._path, os.O_RDONLY | os.O_CLOEXEC)
                self._pid = os.getpid()
            for feature in features[slots < 0].tolist():
                if self._slot[feature] >= 0:  # read meanwhile by another thread
                    continue
                data = os.pread(self._fd, row_bytes, self._offset + feature * row_bytes)
                if len(data) != row_bytes:
                    raise OSError(f"{self._path.name}: short read")
                self._rows[self._count] = np.frombuffer(data, dtype="<f4")
                self._slot[feature] = self._count
                self._count += 1
            return self._slot[features]


def _save_cached(model: Any) -> None:
    paths = cache_paths()
    if paths is None:
        return
    try:
        import numpy as np

        arrays = {
            # float32, as every detection would convert the rows it reads: 1.5 ns a value,
            # 23 us an entry (a sixteenth of a worker's time), for twice the mapped pages
            "ptc": np.ascontiguousarray(model.nb_ptc, dtype=np.float32),
            "pc": np.asarray(model.nb_pc),
            "classes": np.array(list(model.nb_classes)),
            "nextmove": np.frombuffer(model.tk_nextmove, dtype=_dtype(model.tk_nextmove)),
            "row": np.frombuffer(model.tk_row, dtype=_dtype(model.tk_row)),
            "output": np.asarray(model.tk_output, dtype=np.int32),
        }
        paths["ptc"].parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        for name, path in paths.items():  # each file whole or not at all; all are checked
            with replacing(path, mode=0o600) as out:
                np.save(out, arrays[name], allow_pickle=False)
    except Exception as exc:  # a read-only home, a full disk: detection works without it
        log.info("language model cache in %s not written: %s", cache_dir(), exc)


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


# --------------------------------------------------------------------------------------------
# Detection


def detect_with_confidence(text: str, site: Sequence[str]) -> tuple[str | None, float]:
    """The most likely language of ``text`` among all the model knows, and how sure it is.

    ``site`` is the site's languages.  A site language on top is as sure as its share of the
    site languages' probability (which edition); another language, as its probability against
    all the site's languages together (whether any edition), or against all other languages
    when the site names none: see the module docstring.
    ``(None, 0.0)`` when the text has too few letters or no language.
    """
    sample = _sample(text)
    if sum(map(str.isalpha, sample)) < MIN_LETTERS:
        return None, 0.0
    reader = _reader()
    probs = reader.probabilities(sample)
    best = int(probs.argmax())
    tag, share = reader.tags[best], float(probs[best])
    if tag == NO_LANGUAGE:
        return None, 0.0
    codes = site_codes(tuple(site))
    site_share = float(probs @ reader.mask(codes))
    if tag in codes:
        return tag, share / site_share
    rival = site_share if codes else 1.0 - share  # a site of no languages: everything else
    return tag, share / (share + rival)


def has_letters(text: str, count: int) -> bool:
    """Whether ``text`` holds at least ``count`` letters (``str.isalpha``), reading no more of
    it than it takes: counting a whole 3,000-character post cost 50 µs, a tenth of its
    normalising, where the answer is nearly always in its first lines."""
    if count <= 0:
        return True
    step = max(64, 4 * count)
    found = 0
    for start in range(0, len(text), step):
        found += sum(map(str.isalpha, text[start : start + step]))
        if found >= count:
            return True
    return False


def _sample(text: str) -> str:
    """At most ``MAX_DETECT_CHARS`` characters of ``text``, cut at a space when there is one."""
    if len(text) <= MAX_DETECT_CHARS:
        return text
    cut = text.rfind(" ", MAX_DETECT_CHARS // 2, MAX_DETECT_CHARS + 1)
    return text[: cut if cut > 0 else MAX_DETECT_CHARS]


def detect(text: str, site: Sequence[str]) -> str | None:
    """The language of ``text`` (see ``detect_with_confidence``), or ``None`` when unsure.

    Unsure means too few letters to judge or a confidence below ``MIN_CONFIDENCE``; the caller
    then falls back to what the feed or the source declares.
    """
    lang, confidence = detect_with_confidence(text, site)
    return lang if confidence >= MIN_CONFIDENCE else None
