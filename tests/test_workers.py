"""workers.py and preload.py: a warm fork server, and never another copy of the package."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aggregator.ingest import workers

PROBE = (
    "import json, sys\n"
    "import aggregator.ingest.preload\n"
    "loaded = sorted(n for n in sys.modules if n.startswith('aggregator'))\n"
    "print(json.dumps(loaded))\n"
)


def _import_preload(tmp_path: Path, root: str) -> list[str]:
    """Import aggregator.ingest.preload as the fork server does; the modules loaded afterwards."""
    env = {
        "AGGREGATOR_PRELOAD": json.dumps({"root": root, "languages": ["en", "fr"]}),
        "AGGREGATOR_CACHE_DIR": str(tmp_path / "cache"),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=workers.package_root(),
    )
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_preload_warms_the_workers_modules(tmp_path: Path) -> None:
    loaded = _import_preload(tmp_path, str(workers.package_root()))
    assert {
        "aggregator.ingest.process",
        "aggregator.ingest.parse",
        "aggregator.ingest.normalise",
    } <= set(loaded)
    assert list((tmp_path / "cache").glob("langid-*.npz"))  # the model was loaded, for en+fr


def test_a_copy_that_is_not_the_parents_warms_nothing_and_points_at_the_parents(
    tmp_path: Path,
) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "aggregator" / "ingest").mkdir(parents=True)
    (elsewhere / "aggregator" / "ingest" / "process.py").write_text(
        "WHERE = 'parent'\n", encoding="utf-8"
    )
    probe = PROBE + "import aggregator.ingest.process\nprint(aggregator.ingest.process.WHERE)\n"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={
            "AGGREGATOR_PRELOAD": json.dumps({"root": str(elsewhere), "languages": ["en"]}),
            "AGGREGATOR_CACHE_DIR": str(tmp_path / "cache"),
            "PATH": "/usr/bin:/bin",
        },
        cwd=workers.package_root(),
    )
    loaded_line, where = done.stdout.strip().splitlines()[-2:]
    # nothing warmed: only the package, this module's folder and the module itself
    assert json.loads(loaded_line) == [
        "aggregator",
        "aggregator.ingest",
        "aggregator.ingest.preload",
    ]
    assert where == "parent"  # later imports come from the copy the parent named
    assert not (tmp_path / "cache").exists()


def test_the_fork_server_would_find_this_package_here() -> None:
    assert workers.fork_server_finds_this_package()


def test_another_checkout_in_the_working_directory_is_detected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "aggregator"
    other.mkdir()
    (other / "__init__.py").write_text('__version__ = "0.0.1"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert not workers.fork_server_finds_this_package()
