"""language.py: the language a reader sees a post filed under.

``tests/data/language/labelled.tsv`` holds short titles and teasers written for this test, the
length of what detection gets in practice (a title plus a 300-character excerpt, often less).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from aggregator.ingest import language
from aggregator.ingest.language import detect, detect_with_confidence, normalise_tag

LABELLED = Path(__file__).resolve().parent / "data" / "language" / "labelled.tsv"
SITE = ("en", "fr", "es")


def _labelled() -> list[tuple[str, str]]:
    rows = []
    for line in LABELLED.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            lang, text = line.split("\t", 1)
            rows.append((lang, text))
    return rows


def test_the_labelled_set_is_big_enough_in_every_language() -> None:
    counts = Counter(lang for lang, _ in _labelled())
    assert sum(counts.values()) >= 60
    assert all(counts[lang] >= 20 for lang in SITE), counts


def test_at_least_95_percent_of_the_labelled_set_is_detected() -> None:
    rows = _labelled()
    wrong = [(lang, detect(text, SITE), text) for lang, text in rows if detect(text, SITE) != lang]
    assert len(wrong) <= len(rows) * 0.05, wrong


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Welcoming Bologna : un parcours de deux ans pour renforcer l’inclusion des migrants",
            "fr",
        ),
        ("La cultura como respuesta a los retos urbanos globales", "es"),
        ("Kazan was Mentioned Specially by the Lee Kuan Yew World City Prize", "en"),
    ],
)
def test_seed_titles(text: str, expected: str) -> None:
    assert detect(text, SITE) == expected


def test_detection_is_restricted_to_the_allowed_languages() -> None:
    italian = "La città metropolitana di Bologna accoglie i migranti con nuove iniziative"
    assert detect_with_confidence(italian, SITE)[0] in SITE
    assert detect("Die Stadt eröffnet eine neue Bibliothek im alten Rathaus", ("de", "fr")) == "de"


def test_too_little_text_is_not_guessed() -> None:
    assert detect("Migration", SITE) is None
    assert detect("", SITE) is None
    assert detect("2022 – 25/03", SITE) is None


def test_a_single_allowed_language_decides_nothing() -> None:
    assert detect("Le conseil municipal adopte un plan pour le logement", ("en",)) is None


def test_unknown_or_malformed_allowed_codes_are_ignored() -> None:
    text = "Le conseil municipal adopte un plan pour le logement abordable"
    assert detect(text, ("fr", "en", "xx-not", "English")) == "fr"
    assert detect(text, ("qq", "zz")) is None


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("en", "en"), ("en-GB", "en"), ("EN-us", "en"), ("pt_BR", "pt"), (" fr ", "fr"),
        ("es-419", "es"), ("und", None), ("English", None), ("", None), (None, None),
        ("fr-FR-x-private", "fr"), ("e", None),
    ],
)  # fmt: skip
def test_normalise_tag(tag: str | None, expected: str | None) -> None:
    assert normalise_tag(tag) == expected


# --------------------------------------------------------------------------------------------
# The restricted-model cache: same answers, and never a reason for detection to fail


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("AGGREGATOR_CACHE_DIR", str(tmp_path / "cache"))
    language._restricted.cache_clear()
    yield tmp_path / "cache"
    language._restricted.cache_clear()


def _answers() -> list[tuple[str | None, float]]:
    return [detect_with_confidence(text, SITE) for _, text in _labelled()]


def _shipped_answers() -> list[tuple[str | None, float]]:
    view = copy.copy(language._full_model())
    view.set_languages(sorted(SITE))
    return [tuple(view.classify(language._sample(text))) for _, text in _labelled()]


def test_the_cached_model_answers_exactly_as_the_shipped_one(fresh_cache: Path) -> None:
    first = _answers()  # builds the model from the shipped file and writes the cache
    files = list(fresh_cache.glob("langid-*.npz"))
    assert len(files) == 1
    language._restricted.cache_clear()
    second = _answers()  # read back from the cache
    assert second == first
    assert [lang for lang, _ in second] == [lang for lang, _ in _shipped_answers()]
    assert [round(c, 6) for _, c in second] == [round(c, 6) for _, c in _shipped_answers()]


def test_a_damaged_cache_file_is_replaced_not_trusted(fresh_cache: Path) -> None:
    expected = _answers()
    (path,) = fresh_cache.glob("langid-*.npz")
    path.write_bytes(b"PK\x03\x04 not really a model")
    language._restricted.cache_clear()
    assert _answers() == expected
    language._restricted.cache_clear()
    assert language._load_cached(frozenset(SITE)) is not None  # rewritten whole


def test_an_unusable_cache_directory_only_costs_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    monkeypatch.setenv("AGGREGATOR_CACHE_DIR", str(blocker / "cache"))
    language._restricted.cache_clear()
    try:
        assert detect("La ville de Lyon accueille le congrès des maires", SITE) == "fr"
    finally:
        language._restricted.cache_clear()


def test_detection_reads_a_bounded_sample() -> None:
    long_text = "The city council met the mayors of the region to discuss housing. " * 50
    sample = language._sample(long_text)
    assert len(sample) <= language.MAX_DETECT_CHARS
    assert not sample.endswith(("hous", "ma"))  # cut at a space, not inside a word
    assert detect(long_text, SITE) == "en"
