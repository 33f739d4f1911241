"""language.py's speed path: the automaton walked a word at a time gives py3langid's scores.

``FAST_DETECT`` makes the model a subclass that reads each (state, word) walk from a memo;
the reference is py3langid's own ``LanguageIdentifier`` over the very same tables.  Detection's
answers (which edition a post lands in) depend on these scores, so they are compared to the
bit, not approximately.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.ingest import language

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "language"


@pytest.fixture(scope="module")
def models() -> tuple[Any, Any]:
    """(the product's model, py3langid's reference identifier over the same arrays)."""
    from py3langid.langid import LanguageIdentifier

    fast = language._reader().model
    reference = LanguageIdentifier(
        fast.nb_ptc,
        fast.nb_pc,
        list(fast.nb_classes),
        fast.tk_nextmove,
        fast.tk_output,
        norm_probs=True,
        tk_row=fast.tk_row,
    )
    return fast, reference


def _texts() -> list[str]:
    lines = (DATA / "labelled.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line)["text"] for line in lines if line.strip()]
    tsv = (DATA / "labelled.tsv").read_text(encoding="utf-8").splitlines()
    rows += [line.split("\t", 1)[1] for line in tsv if "\t" in line and not line.startswith("#")]
    return rows


def test_the_product_uses_the_memo(models: tuple[Any, Any]) -> None:
    fast, _ = models
    assert type(fast).__name__ == "MemoIdentifier"


def test_every_labelled_text_scores_the_same_to_the_bit(models: tuple[Any, Any]) -> None:
    fast, reference = models
    for text in _texts():
        for sample in (text, language._sample(text)):
            assert np.array_equal(fast._decide(sample), reference._decide(sample)), sample


@pytest.mark.parametrize(
    "text",
    ["", " ", "   ", "a", " leading and trailing ", "double  spaces", "ÉLECTIONS MUNICIPALES",
     "日本語のテキスト", "x" * 600, "tab\tand\nnew line", "ends with a space "],
)  # fmt: skip
def test_edge_texts_score_the_same(models: tuple[Any, Any], text: str) -> None:
    fast, reference = models
    assert np.array_equal(fast._decide(text), reference._decide(text))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_any_text_scores_the_same(text: str) -> None:
    fast = language._reader().model
    from py3langid.langid import LanguageIdentifier

    reference = LanguageIdentifier(
        fast.nb_ptc,
        fast.nb_pc,
        list(fast.nb_classes),
        fast.tk_nextmove,
        fast.tk_output,
        norm_probs=True,
        tk_row=fast.tk_row,
    )
    assert np.array_equal(fast._decide(text), reference._decide(text))


def test_the_memo_starts_again_when_full(
    models: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, reference = models
    monkeypatch.setattr(language, "_WALKS_MAX", 5)
    text = "Le conseil municipal adopte un plan pour le logement des familles"
    for _ in range(3):
        assert np.array_equal(fast._decide(text), reference._decide(text))
        assert len(fast._walks) <= 5 + len(text.split())


def test_the_switch_gives_py3langids_own_identifier_and_the_same_answers() -> None:
    code = (
        "from aggregator.ingest import language\n"
        "m = language._reader().model\n"
        "print(type(m).__name__, language.detect_with_confidence("
        "'Le conseil municipal adopte un plan pour le logement', ('en', 'fr', 'es')))\n"
    )
    env = {**os.environ, "AGGREGATOR_FAST_DETECT": "0"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split(" ", 1)
    assert out[0] == "LanguageIdentifier"
    expected = language.detect_with_confidence(
        "Le conseil municipal adopte un plan pour le logement", ("en", "fr", "es")
    )
    assert out[1].strip() == str(expected)
