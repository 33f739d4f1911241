"""Moderation of member submissions: approve writes the source into ``feeds.yaml``, reject
records the reason for the member.

Shared by the ``feeds approve`` / ``feeds reject`` commands and the ``/admin`` page, so the two
can never disagree.  Enters: the store, the config path, a submission id, ``now``.  Leaves: the
``NewSource`` written, or an ``ApprovalError`` whose message says why in one line.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path

from aggregator import config
from aggregator.errors import AggregatorError, ConfigError
from aggregator.members import discover, roster
from aggregator.store.protocol import Store
from aggregator.store.submissions import APPROVED, PENDING, REJECTED, Submission

REASON_LIMIT = 500  # characters of a rejection reason kept for the member


class ApprovalError(AggregatorError):
    """A submission that cannot be approved or rejected; the message says why, in one line."""


def _candidate_from(sub: Submission) -> discover.Candidate:
    preview = json.loads(sub.preview_json or "{}")
    return discover.Candidate(
        submitted=sub.url,
        url=sub.feed_url,
        format=str(preview.get("format") or "feed"),
        title=preview.get("title"),
        homepage=preview.get("homepage"),
        language=sub.language,
        entry_count=int(preview.get("entry_count") or 0),
        latest=(),
    )


def _pending(store: Store, submission_id: int) -> Submission:
    sub = store.get_submission(submission_id)
    if sub is None:
        raise ApprovalError(f"no submission with id {submission_id}")
    if sub.state != PENDING:
        raise ApprovalError(f"submission {submission_id} was already {sub.state}")
    return sub


def approve(store: Store, config_path: Path, submission_id: int, now: datetime) -> roster.NewSource:
    """Write a pending submission into ``feeds.yaml`` (comments kept) and mark it approved."""
    sub = _pending(store, submission_id)
    try:
        settings = config.load(config_path)
    except ConfigError as exc:
        raise ApprovalError(f"{config_path} is invalid: {'; '.join(exc.problems)}") from exc
    same = discover.duplicate_of(discover.feed_keys(sub.feed_url), settings.source_list())
    if same is not None:
        raise ApprovalError(f"{sub.feed_url} is already configured as source {same.id}")
    choices = discover.Choices(organisation=sub.organisation, language=sub.language)
    taken = {s.id for s in settings.sources}
    new = discover.new_source(_candidate_from(sub), choices, settings, taken)
    if isinstance(new, str):
        raise ApprovalError(new)
    new = dataclasses.replace(new, contact=sub.contact)
    try:
        roster.add_sources(config_path, [new])
    except ConfigError as exc:
        raise ApprovalError(f"{config_path} was not changed: {'; '.join(exc.problems)}") from exc
    if not store.decide_submission(submission_id, APPROVED, now, source_id=new.id):
        raise ApprovalError(f"submission {submission_id} was decided by someone else meanwhile")
    return new


def reject(store: Store, submission_id: int, reason: str, now: datetime) -> None:
    """Mark a pending submission rejected with a reason for the member."""
    reason = " ".join(reason.split())[:REASON_LIMIT]
    if not reason:
        raise ApprovalError("a rejection needs a reason")
    _pending(store, submission_id)
    if not store.decide_submission(submission_id, REJECTED, now, reason=reason):
        raise ApprovalError(f"submission {submission_id} was decided by someone else meanwhile")
