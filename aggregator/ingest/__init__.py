"""Ingest: a configured source in, the posts it holds and what to store out.

Enters: a ``Source`` and what the store remembers of it (``SourceState``).  Leaves: ``Post``
records, and the ``SourceUpdate`` saying what to write and when to fetch again.  Each module is
one step, in the order a document goes through them:

* ``fetch/`` (with ``netguard``): the HTTP request -> ``FetchResult``, failures as values;
* ``parse/`` (feeds) or ``scrape`` (listing pages): bytes -> ``ParsedFeed`` or ``ParseError``
  (``failures`` turns a ``ParseError`` into an ``ErrorKind`` plus parameters);
* ``dates``: the one reader of dates, used by ``parse/`` and ``scrape``;
* ``normalise`` (with ``bylines``, ``identity``, ``plaintext``, ``sanitize``, ``images``,
  ``bidi``, ``language``, ``urls``): ``ParsedFeed`` -> ``[Post]``, every field rule of the
  blog model;
* ``process`` and ``workers``: parse and normalise in worker processes (``preload`` warms them);
  ``process.read_fetched`` is the same reading for discovery and ``feeds check``;
* ``decide``: stored state + fetch result + ``Document`` + ``Stored`` + ``Schedule`` + ``now``
  -> ``SourceUpdate``, pure.

The cycle (``aggregator.cycle``) wires these together and writes through the store; nothing here
opens the store.
"""
