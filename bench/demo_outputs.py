"""Fingerprint the demo's outputs, so a refactoring can show it changed nothing a user sees.

``python bench/demo_outputs.py`` runs the demo with a fixed clock into a temporary folder and
prints one line per output file: its SHA-256 and its path.  The loopback port the demo's feeds are
served on differs from run to run, so it is replaced by ``PORT`` before hashing, as are an email's
Message-ID and MIME boundary; the store, the secret and publish's memo are not outputs.

``--check FILE`` compares with a recorded fingerprint (``bench/demo_outputs.sha256``) and exits 1
naming every file that differs; ``--write FILE`` records one.  The last line is a JSON summary.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's package, whichever one the venv installed

from aggregator.demo.run import run_demo  # noqa: E402

FIXED_NOW = datetime(2026, 3, 25, 9, 30, tzinfo=UTC)
# Not outputs: the store, the secret, and publish's private memo of file times.
SKIP = re.compile(r"(\.sqlite3?(-wal|-shm)?|\.db|\.lock|(^|/)\.[^/]+)$")
# An email's Message-ID and MIME boundary are random by design.
EML_RANDOM = re.compile(rb"(Message-ID: <)[^>]+(>)|(=====)\d+(==)")


def fingerprint(out: Path) -> dict[str, str]:
    result = run_demo(out, clock=lambda: FIXED_NOW)
    port = result.config_path.read_text(encoding="utf-8")
    found = re.search(r"127\.0\.0\.1:(\d+)", port)
    port_text = found.group(1).encode() if found else b"\0"
    prints: dict[str, str] = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        rel = path.relative_to(out).as_posix()
        if SKIP.search(rel):
            continue
        data = path.read_bytes()
        if path.suffix == ".gz":
            continue  # compressed twins: their text is hashed through the original
        data = data.replace(b"127.0.0.1:" + port_text, b"127.0.0.1:PORT")
        if path.suffix == ".eml":
            data = EML_RANDOM.sub(rb"\1\3RANDOM\2\4", data)
        prints[rel] = hashlib.sha256(data).hexdigest()
    return prints


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", type=Path)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        prints = fingerprint(Path(tmp) / "demo")
    lines = [f"{digest}  {name}" for name, digest in prints.items()]
    print("\n".join(lines))
    if args.write:
        args.write.write_text("\n".join(lines) + "\n", encoding="utf-8")
    differs: list[str] = []
    if args.check:
        recorded = dict(
            reversed(line.split("  ", 1)) for line in args.check.read_text().splitlines() if line
        )
        names = sorted(set(recorded) | set(prints))
        differs = [n for n in names if recorded.get(n) != prints.get(n)]
        for name in differs:
            print(f"differs: {name}", file=sys.stderr)
    print(json.dumps({"files": len(prints), "differs": differs}))
    return 1 if differs else 0


if __name__ == "__main__":
    sys.exit(main())
