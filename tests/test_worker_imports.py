"""What a cycle's processes import is memory every cycle holds (issue #13, `bench/run.py`).

The fork server imports what the workers need and they share it; a library imported there that
no worker uses is paid for on every cycle.  pydantic and ruamel (the settings: workers never see
them) cost the fork server 9 MB; trafilatura (full text, with numpy, urllib3 and
charset_normalizer) cost a cycle's own process 10 MB when it read no article at all.  Checked
in a fresh interpreter: this test process has imported everything.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imported_by(code: str, libraries: tuple[str, ...]) -> list[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(n for n in {libraries!r} if n in sys.modules))"
    found = subprocess.run(  # our own interpreter and fixed code
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return found.split()


def test_a_warm_worker_holds_no_library_it_never_uses() -> None:
    code = "from aggregator.ingest.process import warm_up\nwarm_up(('en', 'fr', 'es'))"
    unused = ("pydantic", "ruamel", "trafilatura", "PIL", "aiohttp")
    assert _imported_by(code, unused) == []


def test_a_cycle_reads_no_article_library_until_it_reads_an_article() -> None:
    assert _imported_by("import aggregator.cycle", ("trafilatura", "numpy")) == []
