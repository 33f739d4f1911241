"""The compiled catalogs kept in ``__pycache__`` (``i18n.catalogs``): the same words as
compiling the ``.po``, never a stale one after the ``.po`` changed, and nothing breaks where
the package cannot be written."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from aggregator.i18n import catalogs

PO = Path("LC_MESSAGES") / "messages.po"


@pytest.fixture
def locale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the shipped catalogs, read instead of them."""
    copy = tmp_path / "locale"
    shutil.copytree(catalogs.LOCALE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(catalogs, "LOCALE_DIR", copy)
    catalogs.translations.cache_clear()
    yield copy
    catalogs.translations.cache_clear()


def _words(language: str) -> dict[object, object]:
    catalogs.translations.cache_clear()
    return dict(catalogs.translations(language)._catalog)


def test_a_kept_catalog_gives_the_words_of_the_po(
    locale: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled = _words("fr")  # compiled from the .po, then kept
    [kept] = (locale / "fr" / "LC_MESSAGES" / "__pycache__").glob("messages.*.mo")
    reference = catalogs._mo_bytes

    def refuse(language: str, source: bytes) -> bytes:
        raise AssertionError("compiled again")

    monkeypatch.setattr(catalogs, "_mo_bytes", refuse)
    assert _words("fr") == compiled  # read back from what was kept, not compiled
    monkeypatch.setattr(catalogs, "_mo_bytes", reference)
    assert compiled["Subscribe"] == "S’abonner"
    assert len(compiled) > 300
    assert kept.read_bytes() == catalogs._mo_bytes("fr", (locale / "fr" / PO).read_bytes())


def test_a_changed_po_is_never_read_from_an_older_compile(locale: Path) -> None:
    po = locale / "es" / PO
    assert _words("es")["Subscribe"] != "¡Suscríbase ya!"
    text = po.read_text(encoding="utf-8")
    start = text.index('msgid "Subscribe"\nmsgstr "') + len('msgid "Subscribe"\nmsgstr "')
    end = text.index('"', start)
    po.write_text(text[:start] + "¡Suscríbase ya!" + text[end:], encoding="utf-8")
    assert _words("es")["Subscribe"] == "¡Suscríbase ya!"
    assert len(list(po.parent.joinpath("__pycache__").glob("messages.*.mo"))) == 1


def test_a_package_that_cannot_be_written_still_speaks_french(locale: Path) -> None:
    for language in ("en", "fr", "es"):
        (locale / language / "LC_MESSAGES" / "__pycache__").write_text("not a directory")
    catalogs.translations.cache_clear()
    assert catalogs.Translator("fr").gettext("Subscribe") != "Subscribe"
    assert _words("fr")["Subscribe"] == "S’abonner"
    assert not list(locale.rglob("*.mo"))


def test_an_image_build_keeps_every_catalog_compiled(locale: Path) -> None:
    kept = catalogs.compile_catalogs()
    assert {path.parent.parent.parent.name for path in kept} == {"en", "fr", "es"}
    assert all(path.is_file() for path in kept)
    assert "compile_catalogs()" in (Path(__file__).parents[1] / "Dockerfile").read_text()


def test_a_damaged_kept_catalog_is_compiled_again_and_replaced(locale: Path) -> None:
    compiled = _words("es")
    [kept] = (locale / "es" / "LC_MESSAGES" / "__pycache__").glob("messages.*.mo")
    whole = kept.read_bytes()
    kept.write_bytes(whole[:100])  # cut short, as a full disk might have left it
    assert _words("es") == compiled
    assert kept.read_bytes() == whole
