"""Imported by the cycle's fork server only (see ``ingest.workers``), never by the product.

Importing it imports and warms what every worker needs (parsers, sanitizer, the whole language
model and the site's languages read in it), so that workers forked from the server start with
them loaded, and names the parent's main module as this server's own, so that workers do not
run it again (``_stand_in_for_main``), or runs it once when workers need it (``_run_main``).

``workers`` starts the server only after checking that it finds the parent's copy of the
package; should it find another all the same, this module warms nothing and points the package
at the parent's copy, so that workers still import the parent's modules.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from importlib.machinery import ModuleSpec
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


def _run_main(main_path: object) -> None:
    """Run the parent's main script here, once, as each worker would (see
    ``aggregator.ingest.workers.parent_main``): workers forked from this server then find it
    already run, under the path they would run it from.  What the script makes at module level
    is then inherited by every worker, as with multiprocessing's own preloading of
    ``__main__``; a script that fails here (or exits) is left to each worker, as before."""
    if isinstance(main_path, str) and main_path:
        from multiprocessing import process, spawn

        # as multiprocessing marks a worker while it runs the main module: a script that would
        # start processes outside its ``if __name__ == "__main__"`` fails instead of forking
        current = process.current_process()
        current._inheriting = True  # type: ignore[attr-defined]
        try:
            spawn.import_main_path(main_path)
        except (Exception, SystemExit):  # each worker then runs it, as without this server
            return
        finally:
            del current._inheriting  # type: ignore[attr-defined]


def _stand_in_for_main(main_path: object, main_name: object) -> None:
    """Make workers take this server's ``__main__`` for the parent's, already run.

    A worker started by the fork server runs the parent's main module again
    (``multiprocessing.spawn.prepare``) unless the ``__main__`` it inherits has the same file
    or module name.  That module is the whole command line, which workers never use (see
    ``aggregator.ingest.workers.parent_main``): naming it here spares every worker its
    imports.  An object pickled by reference to ``__main__`` would not be found in a worker;
    no job holds one.
    """
    main = sys.modules["__main__"]
    if isinstance(main_path, str) and main_path:
        main.__file__ = main_path
    if isinstance(main_name, str) and main_name:
        main.__spec__ = ModuleSpec(main_name, None)


def _preload() -> None:
    try:
        wanted = json.loads(os.environ.get(_ENV, ""))
        root = str(wanted["root"])
        languages = tuple(str(code) for code in wanted["languages"])
    except (ValueError, KeyError, TypeError):
        return
    if wanted.get("main") == "stand_in":
        _stand_in_for_main(wanted.get("main_path"), wanted.get("main_name"))
    if str(Path(aggregator.__file__ or "").resolve().parent.parent) != root:
        _redirect_package(root)
        return  # a script the workers need is left to them: it may import this copy
    if wanted.get("main") == "run":
        _run_main(wanted.get("main_path"))
    from aggregator.ingest.process import warm_up

    warm_up(languages)
    # Every object made so far is kept for the server's life: out of the collector's sight,
    # a worker's collections neither walk them (time) nor write their headers, which would
    # copy the pages that hold them into every worker (memory).
    gc.freeze()


_preload()
