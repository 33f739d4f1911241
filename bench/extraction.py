"""``python bench/extraction.py``: article extraction on the 42 labelled pages, both libraries.

Prints precision, recall and F1 (words, against the article's text), the pages where
related-news text leaked into the article, and CPU milliseconds per page, for trafilatura
(the kept library) and readability-lxml (``pip install readability-lxml``; the bench extra),
each on the page alone and after the source's shared blocks are removed.  The last line is
one JSON object.  docs/decisions.md quotes it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aggregator.ingest.fulltext.extract import article_paragraphs  # noqa: E402
from tests.fulltext_labelled import Extractor, measure  # noqa: E402


def _trafilatura(page: str, title: str) -> str:
    return "\n".join(article_paragraphs(page, title))


def _readability() -> Extractor | None:
    try:
        from lxml import html
        from readability import Document
    except ImportError:
        return None

    def extract(page: str, title: str) -> str:
        summary = Document(page).summary(html_partial=True)
        text = html.fromstring(summary).text_content() if summary.strip() else ""
        return text.replace(title, "", 1)

    return extract


def main() -> None:
    figures: dict[str, Any] = {}
    extractors = {"trafilatura": _trafilatura, "readability": _readability()}
    for name, extract in extractors.items():
        if extract is None:
            print(f"{name}: not installed", file=sys.stderr)
            continue
        for shared, label in ((False, "alone"), (True, "shared_removed")):
            t0 = time.process_time()
            quality = measure(extract, remove_shared=shared)
            cpu_ms = (time.process_time() - t0) / 42 * 1000
            key = f"{name}_{label}"
            figures[key] = {
                "precision": round(quality.precision, 3),
                "recall": round(quality.recall, 3),
                "f1": round(quality.f1, 3),
                "worst": quality.worst,
                "leaking_pages": len(quality.leaks),
                "cpu_ms_per_page": round(cpu_ms, 1),
            }
            print(f"{key:<32} {figures[key]}")
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
