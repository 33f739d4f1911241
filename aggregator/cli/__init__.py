"""The command line: ``python run.py [COMMAND]`` and the ``aggregator`` console script.

Enters: the words a person types (and ``--config``, before or after the subcommand).  Leaves:
what the commands print, and their exit codes (0 done, 1 a problem found, 2 usage or an invalid
``feeds.yaml``, 3 another run holds the lock).  No business rules live here: each command loads
the settings, opens the store and calls the stage that does the work.  ``main`` assembles the
groups: ``cycle`` (fetch, publish), ``digest``, ``feeds``, ``serve`` (serve, demo); ``common``
holds what they share.
"""
