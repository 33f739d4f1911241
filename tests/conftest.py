from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.browser import running_chromium
from tests.httpserver import FixtureServer
from tests.test_mail import SmtpServer

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SEEDS = ROOT.parent / "shared" / "seeds"

# Compiled bytecode is kept (``__pycache__``, ignored by git) even where the environment says
# not to (PYTHONDONTWRITEBYTECODE): otherwise each test worker compiles the package and
# rewrites every test module's asserts again on every run, about 3 s of CPU per worker, and
# each ``python run.py`` a test starts compiles the package again.  Third-party packages
# were compiled when installed; only this checkout's modules are written.
sys.dont_write_bytecode = False


def require_seeds() -> Path:
    """The shared seed captures: read by tests only, never by the product.

    They sit beside the repository in the workplace (``../shared/seeds``) and always in CI,
    where their absence fails the run; a clone elsewhere skips the tests that read them.
    """
    if SEEDS.is_dir() and any(SEEDS.glob("*.txt")):
        return SEEDS
    message = f"the seed captures are not at {SEEDS}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


# Whole modules that belong to the slow loop: the hostile corpus, fuzzing, and the tests that
# start, kill and race real processes.
SLOW_MODULES = frozenset({"test_hostile", "test_fuzz", "test_crash", "test_locks"})
SLOW_SOURCE_MARKS = ("subprocess.", "sys.executable", "multiprocessing.", "ProcessPoolExecutor(")
BROWSER_FIXTURES = frozenset({"browser", "french_browser"})  # chromium (tests/browser.py)


def _is_slow(item: pytest.Item) -> bool:
    """The rule of the quick loop: subprocess, browser, property-based and hostile tests are
    slow.  Applied here from what a test does, so a new test cannot forget its mark.

    "What a test does" reaches through the helpers and fixtures of tests/: a test that calls
    ``run_cli`` (tests/faults.py), whose body starts ``python run.py``, starts a process as
    surely as one that calls ``subprocess.run`` itself.
    """
    if item.get_closest_marker("browser") or item.get_closest_marker("slow"):
        return True
    if BROWSER_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    module = getattr(item, "module", None)
    if module is not None and module.__name__.rsplit(".", 1)[-1] in SLOW_MODULES:
        return True
    function = getattr(item, "function", None)
    if function is None:
        return False
    if getattr(function, "is_hypothesis_test", False):
        return True
    if _starts_processes(function):
        return True
    fixtures = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    return any(_starts_processes(defs[-1].func) for defs in fixtures.values() if defs)


_STARTS_PROCESSES: dict[object, bool] = {}


def _starts_processes(function: object) -> bool:
    """Whether ``function``, or a function of tests/ that it names, starts a process.

    Read from the source for the marks and from the compiled code for the names it calls
    (through a module too: ``faults.run_cli``); remembered per function, since parametrised
    tests and shared helpers are asked about many times.
    """
    function = inspect.unwrap(function)  # type: ignore[arg-type]
    known = _STARTS_PROCESSES.get(function)
    if known is not None:
        return known
    _STARTS_PROCESSES[function] = False  # a helper that calls itself is not a process
    code = getattr(function, "__code__", None)
    if code is None:
        return False
    try:
        source = inspect.getsource(function)  # type: ignore[arg-type]
    except (OSError, TypeError):
        source = ""
    found = any(mark in source for mark in SLOW_SOURCE_MARKS) or any(
        _starts_processes(helper) for helper in _named_helpers(function, code)
    )
    _STARTS_PROCESSES[function] = found
    return found


def _named_helpers(function: object, code: object) -> Iterator[object]:
    """The functions of tests/ that ``code`` (and the code nested in it) names."""
    namespace = getattr(function, "__globals__", {})
    names: set[str] = set()
    stack = [code]
    while stack:
        current = stack.pop()
        names.update(current.co_names)  # type: ignore[attr-defined]
        stack.extend(c for c in current.co_consts if inspect.iscode(c))  # type: ignore[attr-defined]
    modules = [v for v in namespace.values() if inspect.ismodule(v) and _ours(v.__name__)]
    for name in names:
        for target in (namespace.get(name), *(getattr(m, name, None) for m in modules)):
            if inspect.isfunction(target) and _ours(target.__module__):
                yield target
            elif inspect.isclass(target) and _ours(target.__module__):
                yield from (v for v in vars(target).values() if inspect.isfunction(v))


def _ours(module: str) -> bool:
    return module == "tests" or module.startswith("tests.")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    collected = {item.nodeid for item in items}
    for item in items:
        if _is_slow(item) or _sqlite_twin(item) in collected:
            item.add_marker(pytest.mark.slow)


def _sqlite_twin(item: pytest.Item) -> str | None:
    """The same test on SQLite, for a test run on PostgreSQL: where there is one, the
    PostgreSQL run is slow (a server, and Alembic over a fresh schema per test) and the quick
    loop keeps the SQLite one.  A test only PostgreSQL can run has no twin and stays."""
    if not item.get_closest_marker("postgres") or "[" not in item.nodeid:
        return None
    name, params = item.nodeid.split("[", 1)
    return f"{name}[{params.replace('postgresql', 'sqlite')}"


@pytest.fixture(scope="session", autouse=True)
def _language_model_cache(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """Keep the language model cache (see aggregator/ingest/language.py) out of the user's home.

    It lives in pytest's cache folder (``.pytest_cache``, kept between runs and emptied by
    ``--cache-clear``): uncompressing the shipped model costs about a second of CPU, which
    each worker of each run would otherwise pay again.  The files are named after the model
    they were built from, so a changed model is never read from an older cache.  With the
    cache plugin off (``-p no:cacheprovider``), a temporary folder of this run.

    Set in the environment, so the cycle's worker processes inherit it too.
    """
    cache = getattr(request.config, "cache", None)
    folder = cache.mkdir("language-model") if cache is not None else None
    folder = Path(folder) if folder is not None else tmp_path_factory.mktemp("cache")
    previous = os.environ.get("AGGREGATOR_CACHE_DIR")
    os.environ["AGGREGATOR_CACHE_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("AGGREGATOR_CACHE_DIR", None)
    else:
        os.environ["AGGREGATOR_CACHE_DIR"] = previous


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Headless chromium asking for English pages (tests/browser.py)."""
    with running_chromium(tmp_path, "en-GB,en", monkeypatch) as driver:
        yield driver


@pytest.fixture
def french_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Headless chromium asking for French pages (tests/browser.py)."""
    with running_chromium(tmp_path, "fr-FR,fr", monkeypatch) as driver:
        yield driver


@pytest.fixture
def http_server() -> Iterator[FixtureServer]:
    """A real HTTP server on 127.0.0.1 with per-test routes."""
    server = FixtureServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that records what it is sent."""
    server = SmtpServer()
    server.controller.start()
    yield server
    server.controller.stop()


@pytest.fixture
def now() -> datetime:
    """The injected clock: tests never read the wall clock."""
    return datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
