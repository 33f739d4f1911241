"""``aggregator search``: the labelled posts in a SQLite store, found from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from aggregator import config
from aggregator.cli.main import main
from aggregator.store import open_store
from tests.search_labelled import fill
from tests.stores import at_head
from tests.test_search_web import FEEDS_YAML


@pytest.fixture
def feeds_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(FEEDS_YAML, encoding="utf-8")
    with open_store(at_head(config.load(path).storage_url)) as store:
        fill(store)
    return path


def search(path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["search", "--config", str(path), *args])
    return result.exit_code, result.output


def test_words_find_posts_in_their_own_language(feeds_yaml: Path) -> None:
    code, out = search(feeds_yaml, "bibliotheque", "--language", "fr")
    assert code == 0
    assert "Les bibliothèques municipales élargissent leurs horaires" in out
    assert "1 post(s) found" in out


def test_json_lines_filters_and_nothing_found(feeds_yaml: Path) -> None:
    code, out = search(feeds_yaml, "plan", "--json", "--org", "Diputación de Sierra Alta")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["id"] for r in rows] == ["es-inundaciones"]
    assert rows[0]["source"] == "Diputación de Sierra Alta"
    assert search(feeds_yaml, "zzzzqqq")[0] == 1
    code, out = search(feeds_yaml, "plan", "--since", "31/12/2026")
    assert code == 2 and "YYYY-MM-DD" in out
    assert search(feeds_yaml)[0] == 2


def test_reindex_rebuilds_from_every_post(feeds_yaml: Path) -> None:
    code, out = search(feeds_yaml, "--reindex")
    assert code == 0 and "42 post(s)" in out
    assert search(feeds_yaml, "canicule", "--reindex")[0] == 0
