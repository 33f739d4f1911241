"""What an operator watches: the last cycle's record, the health verdict, the log format.

Enters: a finished cycle's report (from the in-process scheduler, ``fetch`` or the queue's
publish job), the store's source states, the clock.  Leaves: ``.cycle.json`` in the output
directory (a dotfile: ``serve`` never hands it out, but every process sharing the outputs reads
it, which is what lets a web server on one host judge cycles run on another), the ``/healthz``
verdict as a plain record, and log records with ISO 8601 times and their zone, as text or JSON.

- ``cycles``: write and read the last cycle's record; judge health (pure, ``now`` passed in).
- ``logs``: one logging setup for every command (text or JSON; ``AGGREGATOR_LOG_FORMAT``).
- ``heap``: freed memory handed back to the system after each cycle (glibc's ``malloc_trim``).
"""
