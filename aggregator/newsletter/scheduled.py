"""Issues staff scheduled by hand in the console: which are due, and which the cron must wait for.

A hand schedule (``Curation.send_at``) belongs to one issue.  When its time comes, the
scheduler's minute job sends that edition (``jobs.scheduled_job``, under the edition's lock
like any send).  Until then the edition's own cron leaves that issue alone, so an issue
scheduled for Thursday is not sent by Monday's usual run.  A schedule left on an issue that
has gone out meanwhile (sent from the CLI, say) is dropped, never applied to the next issue.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from aggregator.config import Settings
from aggregator.newsletter.curation import issue_key, issue_start
from aggregator.store.protocol import Store

__all__ = ["due_editions", "hand_scheduled_later"]


def due_editions(store: Store, settings: Settings, now: datetime) -> list[str]:
    """Editions whose current issue was scheduled by hand for ``now`` or earlier.

    Each schedule found is cleared as it is handed out (and stale ones are dropped), so a
    failed send is not retried every minute: staff see the result and schedule again.
    """
    known = {e.name for e in settings.digest.editions}
    due: list[str] = []
    for curation in store.due_curations(now):
        store.save_curation(replace(curation, send_at=None))
        if curation.edition not in known:
            continue
        current = issue_key(curation.edition, issue_start(store.last_edition(curation.edition)))
        if curation.issue == current and curation.edition not in due:
            due.append(curation.edition)
    return due


def hand_scheduled_later(store: Store, edition: str, now: datetime) -> datetime | None:
    """When the current issue is scheduled by hand, if that is after ``now`` (cron: wait)."""
    key = issue_key(edition, issue_start(store.last_edition(edition)))
    curation = store.get_curation(key)
    if curation is None or curation.send_at is None or curation.send_at <= now:
        return None
    return curation.send_at
