"""workers.py and preload.py: a warm fork server, and never another copy of the package."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aggregator.ingest import workers
from tests.httpserver import FixtureServer

PROBE = (
    "import gc, json, sys\n"
    "import aggregator.ingest.preload\n"
    "kept = ('aggregator', 'apscheduler', 'jinja2', 'babel')\n"
    "loaded = sorted(n for n in sys.modules if n.startswith(kept))\n"
    "print(json.dumps(loaded + ['frozen'] * bool(gc.get_freeze_count())))\n"
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
    assert list((tmp_path / "cache").glob("langid-*-ptc.npy"))  # the model was loaded, for en+fr
    # what it loaded is out of the collector's reach (no copy-on-write through collections),
    # and the scheduler library, which workers never use, is not part of every worker
    assert "frozen" in loaded
    assert not [name for name in loaded if name.startswith("apscheduler")]
    # nor what speaks to people: templates and translation catalogs (2 MiB of the fork server)
    assert not [n for n in loaded if n.startswith(("jinja2", "babel.messages", "babel.support"))]
    assert "aggregator.i18n.calendar_names" in loaded  # the date reader's month names


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


CYCLE = """
import json, os, sys
from datetime import UTC, datetime
from aggregator import config
from aggregator.cycle import run_cycle
from aggregator.store import open_store
settings = config.load(sys.argv[1])
store = open_store(settings.storage_url)
run_cycle(settings, store, clock=lambda: datetime(2026, 6, 1, tzinfo=UTC), workers=2)
posts = sorted((p.id, p.content_hash, p.language, p.title) for p in store.recent_posts(1000))
print(json.dumps({"posts": posts, "warmed": "AGGREGATOR_PRELOAD" in os.environ}))
"""


def _cycle_with(switch: str, tmp_path: Path, config_text: str) -> dict[str, object]:
    folder = tmp_path / f"warm-{switch}"
    folder.mkdir()
    (folder / "feeds.yaml").write_text(config_text, encoding="utf-8")
    env = {
        "AGGREGATOR_WARM_FORK_SERVER": switch,
        "AGGREGATOR_CACHE_DIR": str(tmp_path / "cache"),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-c", CYCLE, str(folder / "feeds.yaml")],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=workers.package_root(),
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_workers_give_the_same_posts_with_the_warm_fork_server_switched_off(
    tmp_path: Path, http_server: FixtureServer
) -> None:
    """The warm fork server is a speed path: switched off, every post is the same."""
    lines = ["site: {title: t, base_url: 'https://agg.example/'}"]
    lines.append(f"fetch: {{allow_private: ['{http_server.hostport}']}}")
    lines.append("sources:")
    for n in range(20):  # enough documents for the cycle to start its worker pool
        items = "".join(
            f"<item><title>Post {n}-{i} on housing and water in cities</title>"
            f"<link>https://m{n}.example/{i}</link>"
            "<pubDate>Mon, 01 Jun 2026 07:00:00 +0000</pubDate>"
            "<description>Les villes et les régions construisent des logements.</description>"
            "</item>"
            for i in range(3)
        )
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>S{n}</title>{items}'
        http_server.route(f"/f{n}.rss", body + "</channel></rss>")
        lines.append(f"  - {{id: s{n}, name: S{n}, organisation: O, "
                     f"url: '{http_server.url(f'/f{n}.rss')}'}}")  # fmt: skip
    text = "\n".join(lines) + "\n"
    warm = _cycle_with("1", tmp_path, text)
    cold = _cycle_with("0", tmp_path, text)
    assert warm["warmed"] is True and cold["warmed"] is False
    assert len(warm["posts"]) == 60  # type: ignore[arg-type]
    assert warm["posts"] == cold["posts"]


# A parent whose main module is a script: it notes each run of itself, by the name it runs
# under ("__main__" in the parent, "__mp_main__" where multiprocessing runs it again).  Like
# run.py it defines nothing of its own; JOB_SCRIPT hands the pool a function it defines.
MAIN_SCRIPT = """
import asyncio, json, os, sys
with open(os.environ["RUNS_LOG"], "a") as log:
    log.write(__name__ + "\\n")
if __name__ == "__main__":
    from aggregator.ingest.workers import WorkerPool
    pool = WorkerPool(2, ("en",), eager=True)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        jobs = asyncio.gather(*(pool.run(JOB, "x" * n) for n in range(8)))
        print(json.dumps(loop.run_until_complete(jobs)))
    finally:
        pool.shutdown()
"""
PLAIN_SCRIPT = MAIN_SCRIPT.replace("JOB", "len")
JOB_SCRIPT = MAIN_SCRIPT.replace("JOB", "size").replace(
    "if __name__", "def size(text):\n    return len(text)\n\nif __name__"
)


def _run_parent(tmp_path: Path, script: str, switch: str, started_as: str) -> tuple[Any, list[str]]:
    (tmp_path / "parent.py").write_text(script, encoding="utf-8")
    runs = tmp_path / "runs.log"
    env = {
        "RUNS_LOG": str(runs),
        "AGGREGATOR_WARM_FORK_SERVER": switch,
        "AGGREGATOR_CACHE_DIR": str(tmp_path / "cache"),
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(tmp_path),
    }
    launch = [str(tmp_path / "parent.py")] if started_as == "script" else ["-m", "parent"]
    done = subprocess.run(
        [sys.executable, *launch],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=workers.package_root(),
    )
    return json.loads(done.stdout.strip().splitlines()[-1]), runs.read_text().split()


@pytest.mark.slow  # starts a fork server and two workers
@pytest.mark.parametrize(
    ("switch", "started_as"), [("1", "script"), ("1", "module"), ("0", "script")]
)
def test_workers_do_not_run_the_parents_main_module_again(
    tmp_path: Path, switch: str, started_as: str
) -> None:
    """``run.py`` imports the whole command line: each worker of each cycle ran it again, 1.3 s
    of CPU and 1,080 modules, unless the warm fork server stands in for it (``python
    parent.py`` and ``python -m parent`` alike)."""
    results, names = _run_parent(tmp_path, PLAIN_SCRIPT, switch, started_as)
    assert results == list(range(8))
    if switch == "1":
        assert names == ["__main__"]  # the parent only
    else:  # the reference behaviour: multiprocessing runs it again in each worker
        assert names[0] == "__main__" and "__mp_main__" in names[1:]


@pytest.mark.slow  # starts a fork server and two workers
@pytest.mark.parametrize("started_as", ["script", "module"])
def test_a_main_module_with_its_own_job_function_is_found_by_the_workers(
    tmp_path: Path, started_as: str
) -> None:
    """A script that hands the pool a function of its own (``bench/load.py``'s previews)
    needs its module in the workers: they find it, as multiprocessing always made them.  A
    script is run once more, in the fork server, whose workers inherit it (``bench/run.py``'s
    cycles paid its imports in every worker); ``python -m`` runs it in each worker."""
    results, names = _run_parent(tmp_path, JOB_SCRIPT, "1", started_as)
    assert results == list(range(8))
    if started_as == "script":
        assert names == ["__main__", "__mp_main__"]
    else:
        assert names[0] == "__main__" and "__mp_main__" in names[1:]


def _pipe_sizes(executor: Any) -> list[int]:
    import fcntl

    return [
        fcntl.fcntl(getattr(executor, name)._reader.fileno(), fcntl.F_GETPIPE_SZ)
        for name in ("_call_queue", "_result_queue")
    ]


def test_a_pools_pipes_hold_whole_results(monkeypatch: pytest.MonkeyPatch) -> None:
    """A document's result (about 150 KB) crossed a 64 KiB pipe in three writes, the worker
    waiting on the cycle's process for each: the pool's job and result pipes hold 1 MiB."""
    monkeypatch.setattr(workers, "_prepare_or_log", lambda languages: None)  # no fork server
    pool = workers.WorkerPool(2, ("en",))
    try:
        assert _pipe_sizes(pool._executors[0]) == [workers.PIPE_BYTES] * 2
    finally:
        pool.shutdown()


def test_pipes_left_as_they_are_where_they_cannot_be_widened(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another Python's executor without those queues, or a system whose limit is lower: the
    pipes keep their size and the pool works as before."""
    import fcntl
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    class Elsewhere:  # an executor that names its queues otherwise
        pass

    assert workers.widen_pipes(Elsewhere()) == []  # type: ignore[arg-type]
    executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("forkserver"))
    try:
        before = _pipe_sizes(executor)

        def refused(fd: int, cmd: int, arg: int = 0) -> int:
            raise PermissionError("above /proc/sys/fs/pipe-max-size")

        monkeypatch.setattr(fcntl, "fcntl", refused)
        assert workers.widen_pipes(executor) == []
        monkeypatch.undo()
        assert _pipe_sizes(executor) == before
    finally:
        executor.shutdown()
