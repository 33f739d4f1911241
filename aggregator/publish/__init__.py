"""publish: the store's posts as the files subscribers read.

Enters: the store (read only, in bounded slices: each output's posts, the archive pages' posts
a page at a time; sources, their fetch states), the settings and ``now`` (which dates only the
feeds of an empty store).  Leaves: files under ``site.output_dir``, each
written atomically and only when its bytes changed, text ones with a gzip twin for ``serve``;
and a ``PublishReport`` (written, unchanged and removed files, the changed feeds' URLs for
WebSub).  ``websub.announce`` then pings the hub with those URLs.

Modules, by output:

* ``publisher``: ``publish_all``, the wiring;
* ``choice``: what a streaming publish reads of the store (the ``Site`` without its posts,
  each output's posts as stamps, then whole when the output is rebuilt);
* ``site``: the ``Site`` record, ``safe_url``, ``entry_id``, shared helpers
  (every entry's authors, its categories);
* ``topics``: which spelling of a topic each language's readers see;
* ``editions``: which Atom editions exist and which posts each carries (undated backlogs held
  back from the shared ones);
* ``atom`` (the only importer of feedgen) and ``atom_fast`` (the fast entry writer, with its
  switch); ``rss``, ``jsonfeed``, ``opml``; ``archives`` (RFC 5005 pages, linked both ways,
  cut early when a post would otherwise be in neither them nor ``feed.atom``; a first
  publish's newer pages written by ``archive_helper`` in a second process); ``pages`` (HTML);
* ``memo``: the writer and the memo that skip unchanged outputs;
* ``outputs``: atomic, change-only writes, gzip twins, text hygiene (``clean_text``,
  ``clean_name``);
* ``websub``: the hub ping.
"""
