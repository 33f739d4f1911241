"""Ingest: from a member's feed URL to the posts and source state to store.

Enters: a ``Source`` and its stored ``SourceState``.  Leaves: a ``SourceUpdate`` (the state to
store, the posts to write, the posts that are another member's story).  The stages, in order:

* ``fetch/``: conditional GET under limits and the address guard (``netguard``) -> ``FetchResult``;
* ``parse/`` (and ``scrape`` for HTML listing pages): bytes -> ``ParsedFeed``, with ``dates``
  the one reader of dates;
* ``normalise`` (with ``sanitize``, ``language``, ``urls``): ``ParsedFeed`` -> ``[Post]``, the
  blog-post model;
* ``decide``: stored state + fetch result + posts + ``now`` -> ``SourceUpdate``, pure.

``process`` runs parse + normalise for one document in a worker process (``workers``,
``preload``: the fork server that starts workers warm).  The cycle (``aggregator.cycle``) wires
these together and writes through the store; nothing here opens the store.
"""
