"""Imported by the cycle's fork server only (see ``ingest.workers``), never by the product.

Importing it imports and warms what every worker needs (parsers, sanitizer, the whole language
model and the site's languages read in it), so that workers forked from the server start with
them loaded.

``workers`` starts the server only after checking that it finds the parent's copy of the
package; should it find another all the same, this module warms nothing and points the package
at the parent's copy, so that workers still import the parent's modules.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path

import aggregator

_ENV = "AGGREGATOR_PRELOAD"  # aggregator.ingest.workers.PRELOAD_ENV (not imported: keep this light)


def _redirect_package(root: str) -> None:
    """Make later ``aggregator.*`` imports find the parent's copy, under ``root``."""
    aggregator.__path__ = [str(Path(root) / "aggregator")]
    folder = sys.modules[__name__.rpartition(".")[0]]  # this module's own folder, too
    folder.__path__ = [str(Path(root, *folder.__name__.split(".")))]
    # what this copy imported besides: this module and the packages above it must stay (the
    # import of this module is still under way and ends by looking them up)
    keep = {__name__, __name__.rpartition(".")[0]}
    for name in [n for n in sys.modules if n.startswith("aggregator.") and n not in keep]:
        del sys.modules[name]


def _preload() -> None:
    try:
        wanted = json.loads(os.environ.get(_ENV, ""))
        root = str(wanted["root"])
        languages = tuple(str(code) for code in wanted["languages"])
    except (ValueError, KeyError, TypeError):
        return
    if str(Path(aggregator.__file__ or "").resolve().parent.parent) != root:
        _redirect_package(root)
        return
    from aggregator.ingest.process import warm_up

    warm_up(languages)
    # Every object made so far is kept for the server's life: out of the collector's sight,
    # a worker's collections neither walk them (time) nor write their headers, which would
    # copy the pages that hold them into every worker (memory).
    gc.freeze()


_preload()
