"""``python bench/figures_ab.py OLD NEW [--rounds 3] [--sources 1000]``: every figure of
``bench/run.py``'s 1,000-source run, for two checkouts, measured in turns
(``--phases publish,digest``: only those).

``bench/run.py`` measures one checkout; a figure from another day's run says as much about
the shared machine as about the code (the same cold cycle takes 7 to 9 s from one hour to the
next here).  This runs each phase of ``bench/run.py`` (the cycles, their memory, the floor,
normalising, publishing, the digest) in each checkout's own ``bench/run.py``, against one
corpus served by one server, phase after phase, alternating which checkout goes first, and
prints each figure's median per checkout, then one JSON object: ``{"old": {...}, "new":
{...}, "new_over_old": {...}}`` (a ratio above 1 is a larger figure for the new checkout,
which for every figure here means worse).

Each checkout is a directory holding ``aggregator/`` and ``bench/run.py``, for instance
``git worktree add /tmp/old <commit>``.  Phases an older ``bench/run.py`` lacks are skipped
for both; the peer (``reader``) is left out: it does not change with our code.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpus import generate  # noqa: E402

PHASES = ("ours", "memory", "floor", "normalise", "publish", "digest")
HOSTS = 64


def _phases_of(checkout: Path) -> set[str]:
    text = (checkout / "bench" / "run.py").read_text(encoding="utf-8")
    return {name for name in PHASES if f'"{name}": phase_{name}' in text}


def _phase(checkout: Path, name: str, corpus: Path, port: int, sources: int) -> dict[str, Any]:
    """One phase of ``checkout``'s own ``bench/run.py``, run from that checkout."""
    with tempfile.TemporaryDirectory(prefix=f"figures-{name}-") as work:
        done = subprocess.run(
            [sys.executable, "bench/run.py", "--phase", name, "--corpus", str(corpus),
             "--port", str(port), "--sources", str(sources), "--work", work],
            cwd=checkout, capture_output=True, text=True, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{checkout}: phase {name} failed:\n{done.stderr[-3000:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        k: v for k, v in found.items() if isinstance(v, int | float) and not k.endswith("_runs")
    }


def _warm_model(checkout: Path) -> None:
    """The language model's cache, as ``bench/run.py`` makes it before timing."""
    code = (
        "try:\n from aggregator.ingest.process import warm_up\n"
        "except ImportError:\n from aggregator.process import warm_up\nwarm_up()"
    )
    subprocess.run([sys.executable, "-c", code], cwd=checkout, check=True)


def _medians(runs: list[dict[str, Any]]) -> dict[str, float]:
    keys = sorted({k for run in runs for k in run})
    return {k: round(statistics.median(r[k] for r in runs if k in r), 3) for k in keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--phases", default=",".join(PHASES), help="comma-separated subset")
    args = parser.parse_args()
    checkouts = {"old": args.old.resolve(), "new": args.new.resolve()}
    wanted = set(args.phases.split(","))
    phases = [
        p for p in PHASES if p in wanted and all(p in _phases_of(c) for c in checkouts.values())
    ]
    runs: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
    with tempfile.TemporaryDirectory(prefix="figures-corpus-") as tmp:
        corpus = Path(tmp)
        generate(corpus, args.sources)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = subprocess.Popen(
            [sys.executable, str(HERE / "feedserver.py"), str(corpus), str(port), str(HOSTS)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            if server.stdout.readline().strip() != "ready":
                raise SystemExit("the feed server did not start")
            for checkout in checkouts.values():
                _warm_model(checkout)
            for round_ in range(args.rounds):
                order = ["old", "new"] if round_ % 2 == 0 else ["new", "old"]
                figures: dict[str, dict[str, Any]] = {"old": {}, "new": {}}
                for name in phases:
                    for which in order:
                        found = _phase(checkouts[which], name, corpus, port, args.sources)
                        figures[which].update(found)
                for which in order:
                    runs[which].append(figures[which])
                    print(f"round {round_ + 1} {which}: {json.dumps(figures[which])}",
                          file=sys.stderr, flush=True)  # fmt: skip
        finally:
            server.terminate()
            server.wait()
    old, new = _medians(runs["old"]), _medians(runs["new"])
    ratios = {k: round(new[k] / old[k], 3) for k in old.keys() & new.keys() if old[k]}
    for key in sorted(old.keys() | new.keys()):
        print(f"{key:32} {old.get(key, '-')!s:>12} {new.get(key, '-')!s:>12} "
              f"{ratios.get(key, '-')!s:>8}")  # fmt: skip
    print(json.dumps({"old": old, "new": new, "new_over_old": ratios}, sort_keys=True))


if __name__ == "__main__":
    main()
