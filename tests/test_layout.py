"""The layout stays true: each third-party dependency is imported only by its owner module."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "aggregator"

# dependency -> the modules (relative to aggregator/, without .py) allowed to import it
OWNERS: dict[str, set[str]] = {
    "feedparser": {"parse"},
    "feedgen": {"publish"},
    "premailer": {"digest"},
    "nh3": {"sanitize"},
    "py3langid": {"language"},
    "apscheduler": {"scheduler"},
    "sqlalchemy": {"store"},
    "alembic": {"store"},
    "aiohttp": {"fetch", "netguard", "web", "members_web"},
    "ruamel": {"config", "roster"},
    "smtplib": {"mail"},
    "click": {"cli", "cli_feeds"},
    "rich": {"cli", "cli_feeds"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _owner_key(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = rel.parts
    return parts[0] if len(parts) > 1 else rel.name


def test_each_dependency_is_imported_only_by_its_owner() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        owner = _owner_key(path)
        for name in _imports(path):
            allowed = OWNERS.get(name)
            if allowed is not None and owner not in allowed:
                offenders.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert offenders == []
