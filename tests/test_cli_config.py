"""``--config`` before or after the subcommand, and a bad cron refused by every command."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from aggregator.cli.main import main

GOOD = """\
site: {title: Demo network, base_url: "https://agg.example/"}
sources:
  - {id: uclg, name: UCLG, organisation: UCLG, url: "https://uclg.example/feed"}
"""
BAD_CRON = """\
site: {title: Demo network, base_url: "https://agg.example/"}
digest:
  editions:
    - name: weekly
      schedule: "0 8 * * monday"
sources:
  - {id: uclg, name: UCLG, organisation: UCLG, url: "https://uclg.example/feed"}
"""


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config file away from the working directory, which has a feeds.yaml of its own."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "feeds.yaml").write_text(GOOD.replace("uclg", "local"), encoding="utf-8")
    monkeypatch.chdir(cwd)
    path = tmp_path / "network" / "feeds.yaml"
    path.parent.mkdir()
    path.write_text(GOOD, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "order",
    [
        ["--config", "{path}", "feeds", "list"],
        ["feeds", "list", "--config", "{path}"],
    ],
)
def test_config_before_or_after_the_subcommand_is_used(elsewhere: Path, order: list[str]) -> None:
    args = [a.format(path=elsewhere) for a in order]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "uclg" in result.output and "local" not in result.output


def test_the_nearest_config_wins(elsewhere: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(GOOD.replace("uclg", "cemr"), encoding="utf-8")
    args = ["--config", str(elsewhere), "feeds", "list", "--config", str(other)]
    result = CliRunner().invoke(main, args)
    assert "cemr" in result.output and "uclg" not in result.output


@pytest.mark.parametrize(
    "command",
    [["feeds", "list"], ["feeds", "status"], ["publish"], ["digest", "list"], ["fetch"]],
)
def test_a_bad_cron_is_refused_with_file_and_line_by_every_command(
    tmp_path: Path, command: list[str]
) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(BAD_CRON, encoding="utf-8")
    result = CliRunner().invoke(main, [*command, "--config", str(path)])
    assert result.exit_code == 2
    assert f"{path}:5: " in result.output and "editions[0].schedule" in result.output
    assert "monday" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "aggregator.sqlite3").exists()  # nothing was opened
