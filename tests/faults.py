"""Shared parts of the fault tests (tests/test_faults_*.py): a configuration on disk, the
command line run as a real process, and bounded waits on state (never a fixed sleep).

Each fault test starts real processes (``python run.py …``) against a real SQLite file or a
real PostgreSQL schema (the ``backend`` fixture of tests/test_store.py), as an operator would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = str(ROOT / "run.py")
WAIT_S = 180.0  # the longest any bounded wait here may take (a loaded CI machine is slow)


@dataclass(frozen=True)
class Smtp:
    port: int
    timeout_s: float = 5.0


def write_config(
    tmp_path: Path,
    storage_url: str,
    *,
    smtp: Smtp | None = None,
    recipients: Sequence[str] = (),
    sources: str = "sources: []",
) -> Path:
    """A feeds.yaml with the given store, SMTP server and one ``weekly`` edition."""
    lines = [
        "site:",
        '  title: "Fault network"',
        '  base_url: "https://news.example.org/"',
        f'  storage_url: "{storage_url}"',
        f'  output_dir: "{tmp_path / "public"}"',
        "digest:",
        f'  output_dir: "{tmp_path / "digest"}"',
        '  unsubscribe_url: "https://news.example.org/unsubscribe?email={email}"',
    ]
    if smtp is not None:
        lines += [
            "  smtp:",
            "    host: 127.0.0.1",
            f"    port: {smtp.port}",
            "    security: none",
            "    from_address: news@example.org",
            f"    timeout_s: {smtp.timeout_s}",
            "    rate_per_minute: 6000",
        ]
    listed = ", ".join(recipients)
    lines += ["  editions:", "    - name: weekly", f"      recipients: [{listed}]", sources]
    path = tmp_path / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    env["COLUMNS"] = "200"  # rich wraps at the terminal width; keep lines whole
    return env


def run_cli(config: Path, *args: str, timeout: float = WAIT_S) -> subprocess.CompletedProcess[str]:
    """``python run.py ARGS --config CONFIG`` to its end, as an operator's shell runs it."""
    return subprocess.run(
        [sys.executable, RUN, *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(),
        cwd=ROOT,
        check=False,
    )


def start_cli(config: Path, *args: str) -> subprocess.Popen[str]:
    """The same command, started and left running (the caller waits or kills it)."""
    return subprocess.Popen(
        [sys.executable, RUN, *args, "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
        cwd=ROOT,
    )


_GATED = """
import sys, time
from pathlib import Path
from aggregator.cli.main import entrypoint
gate, ready = Path(sys.argv[1]), Path(sys.argv[2])
ready.touch()
while not gate.exists():
    time.sleep(0.002)
sys.argv = ["run.py", *sys.argv[3:]]
entrypoint()
"""


def start_gated(config: Path, gate: Path, ready: Path, *args: str) -> subprocess.Popen[str]:
    """The command in a process that has imported everything and waits for ``gate`` to exist
    (it touches ``ready`` first): racers released together, as ``cmd1 & cmd2`` would be on a
    machine where starting Python costs nothing."""
    return subprocess.Popen(
        [sys.executable, "-c", _GATED, str(gate), str(ready), *args, "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
        cwd=ROOT,
    )


def race(config: Path, commands: Sequence[Sequence[str]]) -> list[tuple[int, str, str]]:
    """Run the commands at once (``start_gated``); each one's exit status, stdout, stderr."""
    gate = config.parent / "race-gate"
    gate.unlink(missing_ok=True)
    ready = [config.parent / f"race-ready-{n}" for n in range(len(commands))]
    running = [start_gated(config, gate, r, *args) for r, args in zip(ready, commands, strict=True)]
    wait_until(lambda: all(r.exists() for r in ready), "every racer to be ready")
    gate.touch()
    outcomes = [(p.wait(timeout=WAIT_S), *p.communicate()) for p in running]
    for r in ready:
        r.unlink()
    return outcomes


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    """Poll ``condition`` (a cheap look at state) until it holds; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)  # a polling interval, not a wait the test relies on
