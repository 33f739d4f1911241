"""The layout stays true: each third-party dependency is imported only by its owner module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "aggregator"

# dependency -> the modules or folders (relative to aggregator/, without .py) allowed to import it
OWNERS: dict[str, set[str]] = {
    "feedparser": {"ingest/parse/feedparser_adapter"},
    "lxml": {"ingest/parse", "ingest/scrape", "ingest/fulltext", "members/roster", "publish"},
    "trafilatura": {"ingest/fulltext/extract"},
    "Stemmer": {"search/text"},
    "feedgen": {"publish/atom"},
    "premailer": {"newsletter/render"},
    "PIL": {"present/images"},  # Pillow: lead images checked and resized
    "argostranslate": {"present/machine"},  # optional, loaded by name when the operator asks
    "nh3": {"ingest/sanitize"},
    "py3langid": {"ingest/language"},
    "apscheduler": {"scheduler", "config"},  # config checks cron schedules with it
    "sqlalchemy": {"store"},
    "alembic": {"store"},
    "aiohttp": {"ingest/fetch", "web", "publish/websub"},
    "aiohttp_session": {"web/session"},
    "cryptography": {"web/session"},
    "argon2": {"accounts/passwords"},
    # signed links (password resets, subscribers' links, VERP tags): one wrapper for both callers
    "itsdangerous": {"signing"},
    "ruamel": {"config", "members/roster"},
    "filelock": {"members/roster"},
    "smtplib": {"newsletter/mail"},
    "flufl": {"subscribers/bounces"},
    "click": {"cli"},
    "prometheus_client": {"web/metrics"},
    "procrastinate": {"queue/app"},
    "rich": {"cli"},
    # words and formats in the reader's language: catalogs, Babel, the jinja2 environments
    "babel": {"i18n"},
    "gettext": {"i18n"},
    "jinja2": {"i18n"},
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


def _owned_by(path: Path, owners: set[str]) -> bool:
    rel = path.relative_to(PACKAGE).with_suffix("").as_posix()
    return any(rel == owner or rel.startswith(owner + "/") for owner in owners)


def test_each_dependency_is_imported_only_by_its_owner() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for name in _imports(path):
            allowed = OWNERS.get(name)
            if allowed is not None and not _owned_by(path, allowed):
                offenders.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert offenders == []


def test_a_plain_install_runs_every_command_but_the_queue() -> None:
    """README's demo command installs without the ``postgres`` extra: nothing but the queue's
    own commands may need psycopg or procrastinate (a fresh clone once failed at import)."""
    blocked = "import sys; sys.modules.update(psycopg=None, procrastinate=None); "
    run = "from aggregator.cli.main import main; main(['--help'], standalone_mode=False)"
    done = subprocess.run(
        [sys.executable, "-c", blocked + run], cwd=PACKAGE.parent, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "demo" in done.stdout
