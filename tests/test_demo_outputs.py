"""A refactoring changes nothing a user sees: the demo's outputs match their recorded fingerprint.

``bench/demo_outputs.sha256`` holds the SHA-256 of every file the demo writes (fixed clock, the
loopback port and an email's random Message-ID and boundary masked).  A change that is meant to
alter the outputs records the new fingerprint with
``python bench/demo_outputs.py --write bench/demo_outputs.sha256`` and says why in its commit.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
RECORDED = ROOT / "bench" / "demo_outputs.sha256"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "demo_outputs", ROOT / "bench" / "demo_outputs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_demo_writes_exactly_the_recorded_outputs(tmp_path: Path) -> None:
    prints = _script().fingerprint(tmp_path / "demo")
    recorded = {}
    for line in RECORDED.read_text(encoding="utf-8").splitlines():
        digest, name = line.split("  ", 1)
        recorded[name] = digest
    assert sorted(prints) == sorted(recorded)  # no output appeared or vanished
    differs = sorted(name for name in recorded if prints[name] != recorded[name])
    assert differs == []
