"""Workers on procrastinate: the cycle spread over processes and machines (PostgreSQL only).

Enters: the settings (``feeds.yaml``, with its ``queue`` section), the store (sources, posts,
the digest ledger) and procrastinate's tables in the same PostgreSQL database.  Leaves: jobs
in those tables, and what the jobs do: sources updated, outputs published, digests and owner
notices sent, the bounce mailbox read, exactly as the in-process scheduler does them.

- ``plan``: pure decisions: a source's bucket (by host), which buckets a cycle defers, when a
  cycle is finished, which digest job to defer for which slot.
- ``tasks``: the body of each job, plain functions over the store (no queue in sight).
- ``planner``: ``aggregator scheduler``'s loop: applies ``plan`` to the store and the queue.
- ``app``: procrastinate itself (the one module importing it): the app, the tasks and their
  locks, the periodic check that retries the jobs of dead workers, the schema.

Why a cycle is planned by one process and run by many, and why digest editions are scheduled
jobs rather than procrastinate periodic tasks: docs/deploy.md ("Workers").
"""
