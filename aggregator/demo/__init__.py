"""The demo: one full cycle over bundled sample feeds served on 127.0.0.1 (``run.py demo``).

Enters: an output folder.  Leaves: a ``feeds.yaml``, a store, every output and a digest preview
there, made by the same code as production; ``server`` is the loopback feed server it uses.
"""
