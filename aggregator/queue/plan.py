"""Pure decisions of the queue: buckets, cycles and digest slots, with ``now`` passed in.

**Buckets by host.**  The per-host politeness limit (``fetch.per_host``) is kept by one
fetcher, in one process.  A bucket is a set of whole hosts (``sha256(host) mod N``), and one
bucket runs in one job at a time (procrastinate's ``lock``), so however many workers run, one
host never sees more than ``per_host`` requests at once.  The host is that of the URL fetched
now (a stored permanent redirect moves a source with it), as the fetcher counts it.

**Cycles.**  A cycle starts when no bucket job is waiting or running and some source is due;
it defers one job per bucket holding due sources and is over when they have all ended.  Then,
and only then, one publish job is deferred for it.  A cycle that overruns its interval delays
the next one instead of overlapping it (as ``max_instances=1`` does in-process).

**Digest slots.**  Each edition has one job waiting, scheduled at its next cron slot.
procrastinate runs a scheduled job however late its worker comes back, once, which is the
promise the in-process scheduler keeps (a late edition runs once when the system is back);
its periodic tasks would not (they skip a run more than 10 minutes late).
The bounce mailbox's readings (``subscribers.bounce_schedule``) follow the same two decisions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from aggregator.ingest.netguard import host_and_port
from aggregator.models import Source, SourceState


def host_of(url: str) -> str:
    """The host the fetcher's per-host limit counts (lower case, no port); '' when unreadable."""
    try:
        return host_and_port(url)[0].lower()
    except ValueError:
        return ""


def bucket_of(host: str, buckets: int) -> int:
    """A stable bucket for a host: the same on every machine and across restarts."""
    digest = hashlib.sha256(host.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % buckets


def group_by_bucket(
    sources: Iterable[Source], states: Mapping[str, SourceState], buckets: int
) -> dict[int, tuple[str, ...]]:
    """Bucket -> the ids of its sources, sorted; only buckets with sources appear."""
    grouped: dict[int, list[str]] = {}
    for source in sources:
        state = states.get(source.id)
        url = state.url if state is not None else source.url
        grouped.setdefault(bucket_of(host_of(url), buckets), []).append(source.id)
    return {k: tuple(sorted(ids)) for k, ids in sorted(grouped.items())}


@dataclass(frozen=True, slots=True)
class QueueView:
    """What the planner read from the queue's tables at one tick."""

    buckets_pending: int  # update jobs waiting or running
    last_cycle: str | None  # the cycle id of the newest update job
    last_cycle_published: bool  # a publish job exists for it


def cycle_id(now: datetime) -> str:
    return now.isoformat()


def should_publish(view: QueueView) -> str | None:
    """The cycle whose publish is owed: its buckets all ended and none was deferred yet."""
    if view.buckets_pending or view.last_cycle is None or view.last_cycle_published:
        return None
    return view.last_cycle


def may_start_cycle(view: QueueView) -> bool:
    """A new cycle waits for the last one's buckets and for its publish to be deferred."""
    return view.buckets_pending == 0 and should_publish(view) is None


@dataclass(frozen=True, slots=True)
class DigestJob:
    """A digest job found waiting (``todo``) or running (``doing``)."""

    job_id: int
    status: str
    edition: str
    schedule: str
    timezone: str


@dataclass(frozen=True, slots=True)
class DigestPlan:
    cancel: tuple[int, ...]  # waiting jobs of editions gone or rescheduled
    defer: tuple[str, ...]  # editions needing a job at their next slot


def plan_digests(wanted: Mapping[str, tuple[str, str]], jobs: Sequence[DigestJob]) -> DigestPlan:
    """Keep one job per edition at its current schedule (``wanted``: name -> (cron, zone)).

    A running job is never touched; a waiting one whose edition left the configuration, or
    whose schedule changed, is cancelled (and, in the second case, deferred again).
    """
    cancel: list[int] = []
    covered: set[str] = set()
    for job in jobs:
        current = wanted.get(job.edition)
        if job.status == "doing":
            covered.add(job.edition)
        elif current is None or current != (job.schedule, job.timezone):
            cancel.append(job.job_id)
        else:
            covered.add(job.edition)
    return DigestPlan(tuple(cancel), tuple(name for name in wanted if name not in covered))


NextSlot = Callable[[datetime], datetime | None]  # the first slot strictly after a time
MAX_SLOTS_WALKED = 100_000  # a per-minute edition through a two-month outage


def digest_slot(last_slot: datetime | None, now: datetime, next_after: NextSlot) -> datetime | None:
    """When the next job of an edition runs.

    The slot after the last job's slot; when that one is already past (the planner was down
    across slots), the newest past slot instead: the edition runs late, once, covering every
    post since the previous edition, never once per missed slot.  No previous job: the next
    slot after now, as a fresh install of the in-process scheduler does.
    """
    if last_slot is None:
        return next_after(now)
    slot = next_after(last_slot)
    if slot is None or slot > now:
        return slot
    for _ in range(MAX_SLOTS_WALKED):
        later = next_after(slot)
        if later is None or later > now:
            break
        slot = later
    return slot
