"""search/text.py: the index tokens of a text are the same through the speed path and the
definition.

``index_text`` splits at white space and remembers each piece's tokens per language
(``FAST_TOKENS``); ``reference_index_text`` lower-cases the text and stems word by word.  The
tokens are what the SQLite index stores and what queries are stemmed against, so a single
difference would make a post unfindable by that word.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.search import text
from aggregator.search.text import index_text, reference_index_text

ROOT = Path(__file__).resolve().parent.parent

# Texts a feed really sends: accents, ligatures, apostrophes, dashes, Greek final sigma (whose
# lower case depends on the letters around it), Turkish dotted I (whose lower case is two
# characters), digits, unspaced Chinese, separators that are white space and some that are not.
HOSTILE = [
    "Élections municipales : la Ville publie l'Œuvre des élus, 2026-2027 !",
    "ΟΔΟΣ ΑΘΗΝΑΣ και ΟΔΟΣ\u00a0ΠΑΤΡΑΣ· Σ Σ. ΣΑΣ",
    "İstanbul İZMİR  ıI — Straße STRASSE ß",
    "Ciudades,ciudad;CIUDADES\tciudad\nciudad\u2028ciudad\u3000ciudad\x1cciudad\x85fin",
    "北京市人民政府发布了新的城市规划。上海市也一样",
    "snake_case __init__ a_b-c 3.14 1,000 co-op l’été d'«accord»",
    "zero\u200bwidth soft\u00adhyphen non\u2060joiner e\u0301te\u0301 cafe\u0301",
    "https://example.org/path?q=ville&x=1 www.ville.fr/élections",
    "",
    "   \n\t ",
    "!!! ... ¿¡ «» — –",
    # marks that NFKD folds to a space: their token ends with one (the Greek iota subscript,
    # an Arabic harakat presentation form), last in the text and between words
    "مرحبا \ufe70",
    "a\u037a b \u037a \ufc5e مرحبا",
]


@pytest.mark.parametrize("language", ["fr", "en", "es", "el", "tr", "zh", "pt-BR", "", "x"])
def test_hostile_texts_give_the_reference_tokens(language: str) -> None:
    for sample in HOSTILE:
        assert index_text(language, sample) == reference_index_text(language, sample), sample


def test_a_french_post_is_stemmed_and_folded_in_its_language() -> None:
    tokens = index_text("fr", "Les Villes publient : élections, Élections.")
    assert tokens == "fr_le fr_vill fr_publient fr_elect fr_elect"


def test_a_piece_seen_before_gives_the_same_tokens_from_the_dictionary() -> None:
    first = index_text("es", "Ciudades, ciudades; CIUDADES")
    again = index_text("es", "Ciudades, ciudades; CIUDADES")
    assert first == again == reference_index_text("es", "Ciudades, ciudades; CIUDADES")


def test_long_pieces_are_not_kept_but_still_tokenised() -> None:
    piece = "北京市人民政府发布了新的城市规划" * 4  # one unspaced piece of 64 characters
    assert index_text("zh", piece) == reference_index_text("zh", piece)
    assert piece not in text._PIECES.get("zh", {})


def test_the_dictionary_starts_again_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text, "_PIECES_MAX", 3)
    index_text("it", "uno due tre quattro cinque")
    assert index_text("it", "sei sette") == reference_index_text("it", "sei sette")
    assert len(text._PIECES["it"]) <= 3 + 5


def test_only_the_first_indexed_characters_count() -> None:
    body = "ville " * (text.MAX_INDEXED_CHARS // 6) + "introuvable"
    assert "fr_introuv" not in index_text("fr", body)
    assert index_text("fr", body) == reference_index_text("fr", body)


@settings(max_examples=400, deadline=None)
@given(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",)),
        max_size=200,
    ),
    st.sampled_from(["fr", "en", "es", "de", "el", "ru", "und"]),
)
def test_any_text_gives_the_reference_tokens(sample: str, language: str) -> None:
    assert index_text(language, sample) == reference_index_text(language, sample)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "Ville",
                "ville,",
                "VILLES",
                "élus",
                "Élus.",
                "ΟΔΟΣ",
                "Σ",
                "İ",
                "l'été",
                "—",
                " ",
                "\n",
                "\u00a0",
                "\u2028",
                "3,5",
                "_",
                "co-op",
                "«accord»",
                "straße",
            ]
        ),
        max_size=40,
    ).map("".join),
)
def test_recombined_pieces_give_the_reference_tokens(sample: str) -> None:
    assert index_text("fr", sample) == reference_index_text("fr", sample)


def test_no_white_space_character_is_part_of_a_word() -> None:
    """The speed path splits at ``str.split``'s white space: it must never be inside a word,
    nor change the lower case of the letters beside it (Greek final sigma)."""
    spaces = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    assert spaces
    for space in spaces:
        assert not text._WORD.fullmatch(space), hex(ord(space))
        sample = f"ΟΔΟΣ{space}ΑΘΗΝΑΣ{space}Σ"
        assert index_text("el", sample) == reference_index_text("el", sample), hex(ord(space))


def test_the_switch_gives_the_same_posts_tokens_in_a_fresh_process() -> None:
    """``AGGREGATOR_FAST_TOKENS=0`` (read at import) sends every text through the reference."""
    code = (
        "from aggregator.search import text\n"
        "assert text.FAST_TOKENS is False\n"
        "print(text.index_text('fr', 'Les Villes publient : élections.'))\n"
    )
    env = {**os.environ, "AGGREGATOR_FAST_TOKENS": "0"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == index_text("fr", "Les Villes publient : élections.")
