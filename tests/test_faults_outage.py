"""A PostgreSQL outage in the middle of a cycle (issue 17, point 9).

The database is the real PostgreSQL of the test run, reached through a TCP relay on 127.0.0.1
that the test cuts (every open connection dropped, every new one closed at once) and restores:
to ``fetch`` it is a server restart.  Before, every remaining source failed within seconds and
the cycle lock, which could not be released, blocked other hosts for six hours.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator import cycle
from aggregator.errors import StorageError
from aggregator.store.patience import patient
from tests.faults import wait_until
from tests.httpserver import FixtureServer
from tests.test_locks import blocking_route, rss, start_fetch
from tests.test_locks import write_config as locks_config
from tests.test_store import Backend, backend  # noqa: F401 - the fixture, per backend


class CuttableRelay:
    """Forwards 127.0.0.1:<port> to ``target`` until cut; counts connections refused since."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.up = threading.Event()
        self.up.set()
        self.refused = 0
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                self.refused += 1
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.up.clear()
        with self.lock:
            dropped, self.open = self.open, []
        for end in dropped:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def restore(self) -> None:
        self.up.set()

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_postgresql_outage_mid_cycle_is_waited_out(
    backend: Backend, tmp_path: Path, http_server: FixtureServer
) -> None:
    backend.open().close()  # migrated before the relay exists
    host_port = backend.url.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    relay = CuttableRelay((host, int(port)))
    proxied = backend.url.replace(host_port, f"127.0.0.1:{relay.port}")
    paths = [f"/o{i:02d}.rss" for i in range(12)]
    for path in paths[1:]:
        body = rss(path[1:4], [(f"g{n}", f"Entry {n} of {path}.") for n in range(5)])
        http_server.route(path, body, headers={"Content-Type": "text/xml"})
    slow = rss("o00", [(f"g{n}", f"Entry {n} of the slow source.") for n in range(5)])
    feeds_yaml = locks_config(tmp_path, http_server, paths)
    text = feeds_yaml.read_text(encoding="utf-8")
    feeds_yaml.write_text(
        text.replace("output_dir: out}", f"output_dir: out, storage_url: '{proxied}'}}"),
        encoding="utf-8",
    )
    try:
        with blocking_route(http_server, paths[0], slow) as (entered, release):
            fetch = start_fetch(feeds_yaml)
            assert entered.wait(60), "fetch never asked for the slow source"
            relay.cut()  # the server "restarts" while the cycle is at work
            release.set()
            wait_until(lambda: relay.refused >= 2, "fetch to try the database again")
            relay.restore()
            out, err = fetch.communicate(timeout=120)
    finally:
        relay.close()

    assert fetch.returncode == 0, out + err[-3000:]
    assert "12 ok" in out and "0 failed" in out
    assert "store unreachable" in err  # the wait is told, in one line per retry
    assert "Traceback" not in err
    assert backend.raw("SELECT count(*) FROM locks") == [(0,)]
    sources = backend.raw("SELECT count(DISTINCT source_id) FROM posts")
    assert sources == [(12,)]


class _Flaky:
    """A store whose ``count_posts`` fails ``failures`` times, transiently or not."""

    def __init__(self, failures: int, *, transient: bool = True) -> None:
        self.failures = failures
        self.transient = transient
        self.calls = 0

    def count_posts(self) -> int:
        self.calls += 1
        if self.calls <= self.failures:
            error = StorageError("database error while counting posts: server closed")
            error.transient = self.transient
            raise error
        return 7


def test_patience_waits_out_a_short_outage_within_its_budget() -> None:
    pauses: list[float] = []
    flaky = _Flaky(3)
    store = patient(flaky, 10, sleep=pauses.append)  # type: ignore[arg-type]
    assert store.count_posts() == 7
    assert pauses == [0.5, 1.0, 2.0]


def test_patience_is_one_budget_then_fails_fast() -> None:
    pauses: list[float] = []
    store = patient(_Flaky(100), 3, sleep=pauses.append)  # type: ignore[arg-type]
    with pytest.raises(StorageError):
        store.count_posts()
    assert pauses == [0.5, 1.0]  # 0.5 + 1 + 2 would pass the budget
    with pytest.raises(StorageError):
        store.count_posts()
    assert pauses == [0.5, 1.0, 0.5, 1.0]  # what is left of the budget, then no more


def test_patience_never_retries_a_refusal() -> None:
    pauses: list[float] = []
    flaky = _Flaky(1, transient=False)  # a full disk, a constraint: retrying changes nothing
    store = patient(flaky, 10, sleep=pauses.append)  # type: ignore[arg-type]
    with pytest.raises(StorageError):
        store.count_posts()
    assert (pauses, flaky.calls) == ([], 1)


def test_a_held_lock_is_renewed_and_lapses_soon_without_its_heartbeat(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = backend.open()
    renewed = threading.Event()
    real_renew = store.renew_lock

    def renew(name: str, owner: str, now: datetime, ttl_s: float) -> bool:
        result = real_renew(name, owner, now, ttl_s)
        renewed.set()
        return result

    monkeypatch.setattr(store, "renew_lock", renew)
    monkeypatch.setattr(cycle, "RENEW_EVERY_S", 0.01)
    start = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    later = iter([start, start + timedelta(minutes=30)])
    with cycle.held_lock(store, "cycle", clock=lambda: next(later, start)):
        assert renewed.wait(30)
        [(expires,)] = backend.raw("SELECT expires FROM locks")
    assert str(expires).startswith("2026-11-20")
    assert cycle.LOCK_TTL_S <= 3600  # a holder that stops renewing lapses within the hour
    assert backend.raw("SELECT count(*) FROM locks") == [(0,)]
    store.close()
