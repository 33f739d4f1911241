"""language.py: the language a reader sees a post filed under.

``tests/data/language/labelled.tsv`` holds short titles and teasers in the site's languages
written for this test, often shorter than what detection gets in practice (a title plus a
300-character excerpt).  Accuracy over ten languages is in ``test_language_accuracy.py``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.ingest import language
from aggregator.ingest.language import (
    detect,
    detect_with_confidence,
    has_letters,
    normalise_tag,
)
from aggregator.ingest.normalise import choose_language
from aggregator.ingest.workers import package_root

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


def test_detection_names_languages_the_site_does_not_publish() -> None:
    italian = "La città metropolitana di Bologna accoglie i migranti con nuove iniziative"
    assert detect(italian, SITE) == "it"
    portuguese = "A Câmara Municipal de Lisboa aprova um programa de renda acessível para famílias"
    assert detect(portuguese, SITE) == "pt"
    dutch = "De gemeenteraad stemt in met de bouw van zevenhonderd sociale huurwoningen"
    assert detect(dutch, SITE) == "nl"
    assert detect("Die Stadt eröffnet eine neue Bibliothek im alten Rathaus", ("de", "fr")) == "de"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("مدينة القاهرة تطلق خطة جديدة للإسكان الاجتماعي في الأحياء الشعبية", "ar"),
        ("市议会通过了新的住房计划，将在城市中心建设更多的公共住房", "zh"),
        ("Η δημοτική αρχή ανακοίνωσε νέο πρόγραμμα για την κατοικία", "el"),
    ],
)
def test_labels_read_as_the_tags_a_site_uses(text: str, expected: str) -> None:
    assert detect_with_confidence(text, SITE)[0] == expected


def test_every_label_reads_as_one_tag_and_the_probabilities_add_up() -> None:
    reader = language._reader()
    assert not set(language.SITE_TAGS) & set(reader.tags)  # "arz" is read as "ar", never shown
    assert len(set(reader.tags)) == len(reader.tags)
    probs = reader.probabilities("Le conseil municipal adopte un plan pour le logement")
    assert abs(float(probs.sum()) - 1.0) < 1e-4


def test_text_without_language_is_not_guessed() -> None:
    assert detect_with_confidence("xxxxxxxxxxxx yyyyyyyyy zzzzzz", SITE) == (None, 0.0)


def test_too_little_text_is_not_guessed() -> None:
    assert detect("Migration", SITE) is None
    assert detect("", SITE) is None
    assert detect("2022 – 25/03", SITE) is None


def test_a_single_site_language_still_tells_the_others_apart() -> None:
    assert detect("Le conseil municipal adopte un plan pour le logement", ("en",)) == "fr"
    assert detect("The city council adopts a plan for affordable housing", ("en",)) == "en"


def test_unknown_or_malformed_site_codes_are_ignored() -> None:
    text = "Le conseil municipal adopte un plan pour le logement abordable"
    assert detect(text, ("fr", "en", "xx-not", "English")) == "fr"
    assert detect(text, ("qq", "zz")) == "fr"
    assert detect(text, ()) == "fr"


def test_a_site_of_no_languages_is_as_sure_as_the_model() -> None:
    url = "https://www.example.org/path/index.html?id=123&x=abc"
    assert detect(url, ()) is None


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
# The model cache: same answers, and never a reason for detection to fail


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("AGGREGATOR_CACHE_DIR", str(tmp_path / "cache"))
    language.forget_model()
    yield tmp_path / "cache"
    language.forget_model()


@pytest.fixture(scope="module")
def written_cache() -> tuple[dict[str, Path], list[tuple[str | None, float]]]:
    """The cache of this test run (tests/conftest.py), as a first detection writes it, and
    the answers read from it.  Uncompressing the shipped model costs about a second of CPU:
    the tests below that only need a cache to be there copy this one instead."""
    language.forget_model()
    answers = _answers()  # from the run's cache, written first if this process has not yet
    paths = language.cache_paths()
    assert paths is not None and all(path.is_file() for path in paths.values())
    language.forget_model()
    return paths, answers


def _copy_cache(written: dict[str, Path], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for path in written.values():
        shutil.copyfile(path, folder / path.name)


def _answers() -> list[tuple[str | None, float]]:
    return [detect_with_confidence(text, SITE) for _, text in _labelled()]


def _classified(model: Any) -> list[tuple[str, float]]:
    return [tuple(model.classify(language._sample(text))) for _, text in _labelled()]


def test_the_cached_model_answers_exactly_as_the_shipped_one(
    fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped: list[Any] = []  # the model uncompressed from py3langid's file, kept to compare

    def uncompress() -> Any:
        shipped.append(ship())
        return shipped[-1]

    ship = language._shipped_model
    monkeypatch.setattr(language, "_shipped_model", uncompress)
    first = _answers()  # builds the model from the shipped file and writes the cache
    assert len(shipped) == 1
    files = list(fresh_cache.glob("langid-*.npy"))
    assert len(files) == len(language._CACHE_ARRAYS)  # one file per array
    language.forget_model()
    second = _answers()  # read back from the cache
    assert second == first
    assert len(shipped) == 1  # the shipped file was not read again
    cached = language._reader().model
    assert _classified(cached) == _classified(shipped[0])


def test_the_cached_tables_cost_only_what_detection_reads(
    fresh_cache: Path, written_cache: tuple[dict[str, Path], list[Any]]
) -> None:
    """The automaton is mapped: every worker shares the page cache's one copy.  Of the 57 MB
    probability table, a process holds only the rows of the features its texts had."""
    _copy_cache(written_cache[0], fresh_cache)  # the cache a first detection writes
    model = language._reader().model
    assert isinstance(model.tk_nextmove, memoryview)
    assert isinstance(model.nb_ptc, language._Rows)
    assert model.nb_ptc.read == 0
    assert detect("La ville de Lyon accueille le congrès des maires", SITE) == "fr"
    first = model.nb_ptc.read
    assert 0 < first < 200  # of 100,053 rows
    assert detect("La ville de Lyon accueille le congrès des maires", SITE) == "fr"
    assert model.nb_ptc.read == first  # read once, then kept


def test_a_truncated_table_is_rebuilt_not_read_short(
    fresh_cache: Path, written_cache: tuple[dict[str, Path], list[Any]]
) -> None:
    written, expected = written_cache
    _copy_cache(written, fresh_cache)
    (path,) = fresh_cache.glob("langid-*-ptc.npy")
    path.write_bytes(path.read_bytes()[:-568])  # the last row lost, the header intact
    language.forget_model()
    assert language._load_cached() is None
    assert _answers() == expected
    assert language._load_cached() is not None  # rewritten whole


def test_a_damaged_cache_file_is_replaced_not_trusted(
    fresh_cache: Path, written_cache: tuple[dict[str, Path], list[Any]]
) -> None:
    written, expected = written_cache
    _copy_cache(written, fresh_cache)
    (path,) = fresh_cache.glob("langid-*-ptc.npy")
    path.write_bytes(b"\x93NUMPY not really a model")
    language.forget_model()
    assert _answers() == expected
    assert language._load_cached() is not None  # rewritten whole


def test_an_unusable_cache_directory_only_costs_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    monkeypatch.setenv("AGGREGATOR_CACHE_DIR", str(blocker / "cache"))
    language.forget_model()
    try:
        assert detect("La ville de Lyon accueille le congrès des maires", SITE) == "fr"
    finally:
        language.forget_model()


def test_detection_reads_a_bounded_sample() -> None:
    long_text = "The city council met the mayors of the region to discuss housing. " * 50
    sample = language._sample(long_text)
    assert len(sample) <= language.MAX_DETECT_CHARS
    assert not sample.endswith(("hous", "ma"))  # cut at a space, not inside a word
    assert detect(long_text, SITE) == "en"


def test_the_fork_servers_warm_up_loads_what_detection_needs(tmp_path: Path) -> None:
    """Workers forked from the fork server detect without loading anything themselves."""
    probe = (
        "import json\n"
        "import aggregator.ingest.preload\n"
        "from aggregator.ingest import language\n"
        "reader = language._READER[0] if language._READER else None\n"
        "print(json.dumps({'tags': len(reader.tags) if reader else 0,\n"
        "                  'sites': [sorted(s) for s in reader._masks] if reader else []}))\n"
    )
    env = {
        "AGGREGATOR_PRELOAD": json.dumps({"root": str(package_root()), "languages": ["en", "fr"]}),
        "AGGREGATOR_CACHE_DIR": str(tmp_path / "cache"),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=package_root(),
    )
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded["tags"] > 100  # the whole model, not the site's languages only
    assert loaded["sites"] == [["en", "fr"]]


# --------------------------------------------------------------------------------------------
# choose_language: declarations, detection and the site's languages

SPANISH = "El ayuntamiento aprueba nuevos carriles para bicicletas junto al río y la estación"
PORTUGUESE = "A Câmara Municipal de Lisboa aprova um programa de renda acessível para famílias"


@pytest.mark.parametrize(
    ("entry", "feed", "text", "source", "expected"),
    [
        # a declaration outside the site's languages wins over any detection
        (None, "pt-BR", SPANISH, "en", "pt"),
        (None, None, SPANISH, "de", "de"),
        ("it", "pt", SPANISH, "en", "it"),  # the entry's own first
        # a site language declared feed-wide loses to a sure detection, in any language
        (None, "en", PORTUGUESE, "en", "pt"),
        (None, "en-US", SPANISH, "en", "es"),
        (None, "fr", "Kazan", "de", "fr"),  # unsure: the feed's, not the source's
        # nothing declared: detection when sure, else the source's setting
        (None, None, PORTUGUESE, "en", "pt"),
        (None, None, "Kazan", "fr", "fr"),
        (None, None, "Kazan", "not a tag", "en"),
    ],
)  # fmt: skip
def test_choose_language(
    entry: str | None, feed: str | None, text: str, source: str, expected: str
) -> None:
    assert choose_language(entry, feed, text, SITE, source) == expected


@given(st.text(max_size=600), st.integers(min_value=-2, max_value=300))
@settings(max_examples=400, deadline=None)
def test_has_letters_counts_as_a_whole_count_would(text: str, count: int) -> None:
    """``has_letters`` stops reading early; its answer is the whole count's."""
    assert has_letters(text, count) == (sum(map(str.isalpha, text)) >= count)


def test_a_long_post_is_answered_from_its_first_lines() -> None:
    text = "Le conseil municipal a voté le budget. " * 200
    assert has_letters(text, 40) and not has_letters("Le conseil municipal", 40)
    assert has_letters("1234 … 5678 " * 500 + "abc", 3) and not has_letters("1234 " * 500, 1)
