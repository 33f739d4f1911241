"""Moderation of member submissions: approve writes the source into ``feeds.yaml``, reject
records the reason for the member.

Shared by the ``feeds approve`` / ``feeds reject`` commands and the console's moderation page,
so the two can never disagree.  Enters: the store, the config path, a submission id, ``now``.
Leaves: the ``NewSource`` written, or an ``ApprovalError``: its kind and parameters, which
``problem_text`` words in the moderator's language (the console), and one English line (the CLI).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path

from aggregator import config
from aggregator.errors import AggregatorError, ConfigError
from aggregator.i18n import translator
from aggregator.members import discover, roster
from aggregator.models import Source
from aggregator.store.protocol import Store
from aggregator.store.submissions import APPROVED, PENDING, REJECTED, Submission

REASON_LIMIT = 500  # characters of a rejection reason kept for the member


class ApprovalProblem(enum.StrEnum):
    """Why a submission cannot be approved or rejected."""

    NOT_FOUND = "not_found"  # params: id
    ALREADY_DECIDED = "already_decided"  # params: id, state
    DECIDED_MEANWHILE = "decided_meanwhile"  # params: id
    ALREADY_CONFIGURED = "already_configured"  # params: url, source
    CONFIG_INVALID = "config_invalid"  # params: path, detail (feeds.yaml's own diagnostics)
    CONFIG_UNCHANGED = "config_unchanged"  # params: path, detail
    INVALID_SOURCE = "invalid_source"  # params: detail (the entry that would be written)
    NO_REASON = "no_reason"


class ApprovalError(AggregatorError):
    """A submission that cannot be approved or rejected: ``problem`` and ``params`` say why,
    the message says it in one English line."""

    def __init__(self, problem: ApprovalProblem, message: str, **params: str | int) -> None:
        self.problem = problem
        self.params: Mapping[str, str | int] = params
        super().__init__(message)


def problem_text(error: ApprovalError, language: str | None) -> str:
    """The error as a sentence in ``language``, for the moderation page."""
    t = translator(language)
    p = error.params
    match error.problem:
        case ApprovalProblem.NOT_FOUND:
            return t.gettext("There is no submission number %(id)s.", **p)
        case ApprovalProblem.ALREADY_DECIDED if p.get("state") == APPROVED:
            return t.gettext("Submission %(id)s was already approved.", **p)
        case ApprovalProblem.ALREADY_DECIDED:
            return t.gettext("Submission %(id)s was already rejected.", **p)
        case ApprovalProblem.DECIDED_MEANWHILE:
            return t.gettext("Submission %(id)s was decided by someone else meanwhile.", **p)
        case ApprovalProblem.ALREADY_CONFIGURED:
            return t.gettext(
                "The feed %(url)s is already in the network as source %(source)s.", **p
            )
        case ApprovalProblem.CONFIG_INVALID:
            return t.gettext("The configuration file %(path)s is invalid: %(detail)s", **p)
        case ApprovalProblem.CONFIG_UNCHANGED:
            return t.gettext(
                "The configuration file %(path)s could not be changed: %(detail)s", **p
            )
        case ApprovalProblem.INVALID_SOURCE:
            return t.gettext("The new source would be invalid: %(detail)s", **p)
        case ApprovalProblem.NO_REASON:
            return t.gettext("A rejection needs a reason.")


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
        message = f"no submission with id {submission_id}"
        raise ApprovalError(ApprovalProblem.NOT_FOUND, message, id=submission_id)
    if sub.state != PENDING:
        message = f"submission {submission_id} was already {sub.state}"
        raise ApprovalError(
            ApprovalProblem.ALREADY_DECIDED, message, id=submission_id, state=sub.state
        )
    return sub


def _decided_meanwhile(submission_id: int) -> ApprovalError:
    message = f"submission {submission_id} was decided by someone else meanwhile"
    return ApprovalError(ApprovalProblem.DECIDED_MEANWHILE, message, id=submission_id)


def approve(store: Store, config_path: Path, submission_id: int, now: datetime) -> roster.NewSource:
    """Write a pending submission into ``feeds.yaml`` (comments kept) and mark it approved.

    The whole decision holds the file's edit lock (``roster.editing``): a concurrent approval
    reads the file only after this one wrote it, so neither source is lost.  The submission is
    marked approved only once its source is in the file, and the source is taken out again if
    someone else decided the submission meanwhile.  An approval cut short between the two
    (the source written, the submission still pending) is completed by approving it again.
    """
    _pending(store, submission_id)
    with _config_locked(config_path):
        sub = _pending(store, submission_id)
        settings = _load(config_path)
        same = discover.duplicate_of(discover.feed_keys(sub.feed_url), settings.source_list())
        if same is not None and same.contact == sub.contact and same.url == sub.feed_url:
            new = _written(same)
        elif same is not None:
            raise ApprovalError(
                ApprovalProblem.ALREADY_CONFIGURED,
                f"{sub.feed_url} is already configured as source {same.id}",
                url=sub.feed_url,
                source=same.id,
            )
        else:
            new = _new_source(sub, settings)
            _add(config_path, new)
        if not store.decide_submission(submission_id, APPROVED, now, source_id=new.id):
            if same is None:
                roster.remove_source(config_path, new.id)
            raise _decided_meanwhile(submission_id)
    return new


@contextlib.contextmanager
def _config_locked(config_path: Path) -> Iterator[None]:
    try:
        with roster.editing(config_path):
            yield
    except ConfigError as exc:  # the lock, or undoing a write: the file is as it was
        detail = "; ".join(exc.problems)
        raise ApprovalError(
            ApprovalProblem.CONFIG_UNCHANGED,
            f"{config_path} was not changed: {detail}",
            path=str(config_path),
            detail=detail,
        ) from exc


def _load(config_path: Path) -> config.Settings:
    try:
        return config.load(config_path)
    except ConfigError as exc:
        detail = "; ".join(exc.problems)
        raise ApprovalError(
            ApprovalProblem.CONFIG_INVALID,
            f"{config_path} is invalid: {detail}",
            path=str(config_path),
            detail=detail,
        ) from exc


def _written(source: Source) -> roster.NewSource:
    """The entry an earlier, interrupted approval already wrote."""
    return roster.NewSource(
        id=source.id,
        name=source.name,
        organisation=source.organisation,
        url=source.url,
        homepage=source.homepage,
        language=source.language,
        tags=tuple(source.tags),
        contact=source.contact,
    )


def _new_source(sub: Submission, settings: config.Settings) -> roster.NewSource:
    choices = discover.Choices(organisation=sub.organisation, language=sub.language)
    taken = {s.id for s in settings.sources}
    new = discover.new_source(_candidate_from(sub), choices, settings, taken)
    if isinstance(new, str):
        raise ApprovalError(ApprovalProblem.INVALID_SOURCE, new, detail=new)
    return dataclasses.replace(new, contact=sub.contact)


def _add(config_path: Path, new: roster.NewSource) -> None:
    try:
        roster.add_sources(config_path, [new])
    except ConfigError as exc:
        detail = "; ".join(exc.problems)
        raise ApprovalError(
            ApprovalProblem.CONFIG_UNCHANGED,
            f"{config_path} was not changed: {detail}",
            path=str(config_path),
            detail=detail,
        ) from exc


def reject(store: Store, submission_id: int, reason: str, now: datetime) -> None:
    """Mark a pending submission rejected with a reason for the member."""
    reason = " ".join(reason.split())[:REASON_LIMIT]
    if not reason:
        raise ApprovalError(ApprovalProblem.NO_REASON, "a rejection needs a reason")
    _pending(store, submission_id)
    if not store.decide_submission(submission_id, REJECTED, now, reason=reason):
        raise _decided_meanwhile(submission_id)
