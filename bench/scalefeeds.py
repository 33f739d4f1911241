"""The scale bench's feed host: tens of thousands of member feeds made on demand, none stored.

``python bench/scalefeeds.py PORT HOSTS`` listens on 127.0.0.1 … 127.0.0.HOSTS like
bench/feedserver.py, and answers ``/s{N}.rss`` (even N) or ``/s{N}.atom`` (odd N) for any N.
Writing 35,000 documents (2.3 GB) to disk first would take longer than the cycle it feeds, so
each document is put together when asked for, from a pool of entry bodies made once from a
fixed seed: the same request always gets the same bytes, on any machine.

Every document holds the source's newest 20 entries.  ``POST /_round/R`` moves the host to
round R: in each round 1 … R, one source in twenty (those with ``N % 20 == round % 20``) got
one new entry, so round 1 is the steady state with 5 % of sources changed.  The ETag names the
source and its entry count, so an unchanged source answers 304 to a conditional request.
"""

from __future__ import annotations

import asyncio
import random
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

from aiohttp import web
from corpus import LANGS, WORDS, _body, _sentence

ENTRIES = 20
POOL = 240  # bodies per language: enough that neighbouring entries never share one
BASE = datetime(2026, 6, 1, tzinfo=UTC)
CHANGED_EVERY = 20  # one source in twenty changes per round: 5 %


def _pool(seed: int = 20261207) -> dict[str, list[tuple[str, str]]]:
    """(escaped title stem, escaped body) per language: the costly part, made once."""
    rng = random.Random(seed)
    return {
        lang: [(escape(_sentence(rng, lang)[:70]), escape(_body(rng, lang))) for _ in range(POOL)]
        for lang in LANGS
    }


class Documents:
    """The documents of every source at the current round, built on request."""

    def __init__(self) -> None:
        self.pool = _pool()
        self.round = 0

    def new_entries(self, source: int) -> int:
        """How many entries ``source`` got in rounds 1 … ``round``."""
        first = source % CHANGED_EVERY or CHANGED_EVERY  # the first round it changes in
        return 0 if self.round < first else 1 + (self.round - first) // CHANGED_EVERY

    def etag(self, source: int) -> str:
        return f'"{source}-{self.new_entries(source)}"'

    def document(self, source: int) -> bytes:
        total = ENTRIES + self.new_entries(source)
        numbers = range(total - 1, total - 1 - ENTRIES, -1)  # the newest 20, newest first
        if source % 2 == 0:
            return self._rss(source, numbers)
        return self._atom(source, numbers)

    def _entry(self, source: int, number: int) -> tuple[str, str, str, datetime, str]:
        lang = LANGS[(source + number) % 3]
        title, body = self.pool[lang][(source * 7 + number * 13) % POOL]
        # a title and a first line of its own, so no two entries are one story
        unique = f"{title} {source}-{number}"
        body = f"&lt;p&gt;Member {source}, post {number}.&lt;/p&gt;{body}"
        when = BASE + timedelta(hours=source % 500 * 7 + number * 13, seconds=source)
        url = f"https://member{source}.example.org/posts/{number}"
        return lang, unique, body, when, url

    def _rss(self, source: int, numbers: range) -> bytes:
        items = []
        for n in numbers:
            lang, title, body, when, url = self._entry(source, n)
            tag = WORDS[lang][n % len(WORDS[lang])]
            items.append(
                f"<item><title>{title}</title><link>{url}</link><guid>{url}</guid>"
                f"<pubDate>{format_datetime(when)}</pubDate><category>{tag}</category>"
                f"<description>{body}</description></item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Member {source}</title><link>https://member{source}.example.org/</link>"
            f"<description>Member {source}</description>{''.join(items)}</channel></rss>"
        ).encode()

    def _atom(self, source: int, numbers: range) -> bytes:
        items = []
        for n in numbers:
            lang, title, body, when, url = self._entry(source, n)
            tag = WORDS[lang][n % len(WORDS[lang])]
            stamp = when.isoformat()
            items.append(
                f'<entry xml:lang="{lang}"><title>{title}</title><id>{url}</id>'
                f'<link rel="alternate" href="{url}"/><updated>{stamp}</updated>'
                f'<published>{stamp}</published><category term="{tag}"/>'
                f'<content type="html">{body}</content></entry>'
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>Member {source}</title><id>urn:bench:{source}</id>"
            f'<link rel="alternate" href="https://member{source}.example.org/"/>'
            f"<updated>{BASE.isoformat()}</updated>{''.join(items)}</feed>"
        ).encode()


def build_app(docs: Documents) -> web.Application:
    async def feed(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        stem, _, suffix = name.partition(".")
        if not stem.startswith("s") or not stem[1:].isdigit():
            raise web.HTTPNotFound()
        source = int(stem[1:])
        if suffix != ("rss" if source % 2 == 0 else "atom"):
            raise web.HTTPNotFound()
        etag = docs.etag(source)
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        ctype = "application/rss+xml" if suffix == "rss" else "application/atom+xml"
        return web.Response(
            body=docs.document(source), headers={"ETag": etag, "Content-Type": ctype}
        )

    async def set_round(request: web.Request) -> web.StreamResponse:
        docs.round = int(request.match_info["round"])
        return web.Response(text=str(docs.round))

    app = web.Application()
    app.router.add_post("/_round/{round}", set_round)
    app.router.add_get("/{name}", feed)
    return app


async def serve(port: int, hosts: int) -> None:
    runner = web.AppRunner(build_app(Documents()), access_log=None)
    await runner.setup()
    for h in range(1, hosts + 1):
        await web.TCPSite(runner, f"127.0.0.{h}", port, backlog=4096).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), int(sys.argv[2])))
