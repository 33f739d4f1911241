"""The helper process of a first publish: the newer half of the archive pages, on the other core.

Enters: a pickled ``archives.HelperJob`` on stdin (written by ``archives.write_pages_on_both_cores``
in the parent: the store's URL, the site's settings, sources, states and topic labels, the
pages' boundaries and numbers).  Leaves: those pages written under the output directory, and
on stdout the JSON pair (written, unchanged) of their paths relative to it.  Run as
``python -m aggregator.publish.archive_helper`` by the parent only.
"""

from __future__ import annotations

import json
import pickle
import sys

from aggregator.publish import atom_fast
from aggregator.publish.archives import HelperJob, write_pages
from aggregator.publish.memo import Writer
from aggregator.publish.outputs import BatchWriter
from aggregator.publish.site import Site, utc
from aggregator.store import open_store


def help_with(job: HelperJob) -> tuple[list[str], list[str]]:
    """Write ``job.numbers`` as the parent would; (written, unchanged) relative paths."""
    atom_fast.ENABLED = job.fast_atom
    store = open_store(job.url)
    try:
        settings, sources, states, topics = job.site
        site = Site(
            settings, sources, states, (), job.now, utc(job.now), topics,
            newest_loader=store.newest_updated,
        )  # fmt: skip
        with BatchWriter() as files:
            out = Writer(job.root, files)
            write_pages(store, site, out, (job.ends, job.numbers), spare=False)
    finally:
        store.close()
    written = [str(p.relative_to(job.root)) for p in out.written]
    return written, [str(p.relative_to(job.root)) for p in out.unchanged]


def main() -> None:
    job = pickle.loads(sys.stdin.buffer.read())  # noqa: S301 - from our own parent process
    if not isinstance(job, HelperJob):
        raise SystemExit("archive_helper: not a job")
    print(json.dumps(help_with(job)))


if __name__ == "__main__":
    main()
