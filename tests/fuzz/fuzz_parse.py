"""Coverage-guided fuzzing of parse -> normalise with atheris (libFuzzer); not run by pytest.

    .venv/bin/pip install atheris
    mkdir -p /tmp/fuzz-corpus && cp tests/data/parse/*.xml tests/data/parse/*.json /tmp/fuzz-corpus/
    .venv/bin/python tests/fuzz/fuzz_parse.py /tmp/fuzz-corpus -max_total_time=300

Any exception other than ``FeedError`` (the documented outcome of a bad document) is a crash:
libFuzzer saves the input as ``crash-*`` in the working directory.  Give the corpus directory
a scratch copy: libFuzzer adds the inputs it finds interesting to it.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import atheris

with atheris.instrument_imports():
    from aggregator.errors import FeedError
    from aggregator.ingest.normalise import normalise
    from aggregator.ingest.parse import parse_document
    from aggregator.models import Source

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SOURCE = Source(id="fuzz", name="Fuzz", organisation="Fuzz", url="https://fuzz.example/feed")


def test_one_input(data: bytes) -> None:
    try:
        parsed = parse_document(data, url=SOURCE.url, headers={})
    except FeedError:
        return
    for post in normalise(parsed, SOURCE, NOW):
        if "\x00" in post.title or not post.link.startswith(("http://", "https://")):
            raise AssertionError(f"unsafe post survived normalise: {post!r}")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
