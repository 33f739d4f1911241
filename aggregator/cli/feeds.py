"""The ``feeds`` subcommands that change or check the list of member sources.

``feeds add`` / ``import`` find each feed with ``discover`` (so a home page is enough), show what
it will contribute, and write ``feeds.yaml`` through ``roster`` (comments and order kept).
``feeds validate`` is meant for the pull-request check of a repository holding the config: it
prints exactly one ``ID: problem`` line per problem and exits 1 when there is any.

Everything printed here is plain ``click.echo`` text, one record per line: these commands are
run in CI and piped to ``grep``, where a table wrapped at 80 columns would split a reason in two.
Exit codes follow ``cli.main``: 0 done, 1 refused or problems found, 2 usage or invalid config.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from pydantic import ValidationError
from rich.table import Table

from aggregator import config
from aggregator.cli.common import config_option, console, load_settings, opened_store, when
from aggregator.clock import utc_now
from aggregator.errors import ConfigError, one_line
from aggregator.ingest.decide import failing_for
from aggregator.ingest.language import normalise_tag
from aggregator.members import discover, moderation, outcomes, roster
from aggregator.models import Source
from aggregator.store.protocol import Store

# --------------------------------------------------------------------------------------------
# Building the entry to write


def _as_source(new: roster.NewSource) -> Source:
    return Source(id=new.id, name=new.name, organisation=new.organisation, url=new.url)


def _tags(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(dict.fromkeys(t.strip() for t in value.split(",") if t.strip()))


# --------------------------------------------------------------------------------------------
# Printing


_FOUND_BY = {
    "direct": "the URL is a feed",
    "advertised": "advertised by the page",
    "common path": "found at a common feed path; the page advertises none",
}


def print_candidate(found: discover.Candidate) -> None:
    click.echo(f"Feed: {found.url}  ({_FOUND_BY.get(found.found_by, found.found_by)})")
    click.echo(
        f"  title: {one_line(found.title or '(none)')} | format: {found.format} | "
        f"language: {found.language or '?'} | {found.entry_count} entries"
    )
    if found.homepage:
        click.echo(f"  site: {found.homepage}")
    for warning in found.warnings:
        click.echo(f"  warning: {one_line(warning, 160)}")
    click.echo("  Latest entries, as they will appear:" if found.latest else "  No entries yet.")
    for entry in found.latest:
        click.echo(f"    {entry.published:%Y-%m-%d}  {one_line(entry.title, 100)}")
        if entry.excerpt:
            click.echo(f"                {one_line(entry.excerpt, 140)}")


def print_entry(new: roster.NewSource) -> None:
    tags = ", ".join(new.tags) or "-"
    click.echo(
        f"Source: id={new.id} | name={new.name} | organisation={new.organisation} | "
        f"language={new.language} | tags={tags}"
    )


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {one_line(message)}", err=True)
    raise SystemExit(code)


def _write(path: Path, sources: Sequence[roster.NewSource]) -> None:
    try:
        roster.add_sources(path, sources)
    except ConfigError as exc:
        _fail(f"{path} was not changed: {'; '.join(exc.problems)}")


# --------------------------------------------------------------------------------------------
# feeds add


def run_add(config_path: Path, url: str, choices: discover.Choices, yes: bool) -> None:

    settings = load_settings(config_path)
    taken = {s.id for s in settings.sources}
    if choices.id is not None and choices.id in taken:
        _fail(f"refused: id {choices.id!r} is already used by a source in {config_path}")
    found = discover.discover(url, settings, member=False, now=utc_now())
    if isinstance(found, discover.Refusal):
        _fail(f"refused: {found.message}")
        return
    print_candidate(found)
    new = discover.new_source(found, choices, settings, taken)
    if isinstance(new, str):
        _fail(f"refused: {new}")
        return
    print_entry(new)
    if not yes and not click.confirm(f"Add this source to {config_path}?", default=False):
        _fail("nothing written")
    _write(config_path, [new])
    click.echo(f"Added source {new.id} to {config_path}")


# --------------------------------------------------------------------------------------------
# feeds import


@dataclass(frozen=True, slots=True)
class _ImportLine:
    url: str
    status: str  # added, duplicate, failed
    detail: str
    new: roster.NewSource | None = None


def plan_import(
    feeds: Sequence[roster.OpmlFeed],
    results: Sequence[discover.Candidate | discover.Refusal],
    settings: config.Settings,
) -> list[_ImportLine]:
    """One line per OPML feed; duplicates are judged against the config plus earlier adds."""
    known: list[Source] = settings.source_list()
    taken = {s.id for s in known}
    lines = []
    for feed, found in zip(feeds, results, strict=True):
        if isinstance(found, discover.Refusal):
            status = "duplicate" if found.kind is discover.RefusalKind.DUPLICATE else "failed"
            lines.append(_ImportLine(feed.url, status, found.message))
            continue
        same = discover.duplicate_of(discover.feed_keys(found.url, found.self_link), known)
        if same is not None:
            lines.append(_ImportLine(feed.url, "duplicate", f"duplicate of source {same.id}"))
            continue
        choices = discover.Choices(
            name=feed.title,
            organisation=feed.organisation,
            language=normalise_tag(feed.language),
            tags=feed.tags,
            homepage=feed.homepage if feed.homepage and _is_web(feed.homepage) else None,
        )
        new = discover.new_source(found, choices, settings, taken)
        if isinstance(new, str):
            lines.append(_ImportLine(feed.url, "failed", new))
            continue
        taken.add(new.id)
        known.append(_as_source(new))
        lines.append(_ImportLine(feed.url, "added", f"as {new.id} ({new.url})", new))
    return lines


def _is_web(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")


def run_import(config_path: Path, opml_path: Path, yes: bool) -> None:

    settings = load_settings(config_path)
    try:
        feeds = roster.read_opml(opml_path.read_bytes())
    except (OSError, roster.OpmlError) as exc:
        _fail(f"cannot read {opml_path}: {exc}")
        return
    results = discover.discover_many([f.url for f in feeds], settings, member=False, now=utc_now())
    lines = plan_import(feeds, results, settings)
    for line in lines:
        click.echo(f"{line.status:<9} {line.url}: {one_line(line.detail)}")
    added = [line.new for line in lines if line.new is not None]
    counts = {s: sum(1 for line in lines if line.status == s) for s in ("added", "duplicate")}
    failed = len(lines) - counts["added"] - counts["duplicate"]
    summary = (
        f"{len(lines)} feed(s) in {opml_path.name}: {counts['added']} added, "
        f"{counts['duplicate']} duplicate, {failed} failed"
    )
    if added and not yes and not click.confirm(f"Write {len(added)} source(s)?", default=False):
        _fail(f"nothing written; {summary}")
    _write(config_path, added)
    click.echo(summary)
    if failed:
        raise SystemExit(1)


# --------------------------------------------------------------------------------------------
# feeds validate


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _label(item: Any, index: int) -> str:
    ident = item.get("id") if isinstance(item, dict) else None
    return str(ident) if isinstance(ident, str) and ident else f"sources[{index}]"


def static_problems(text: str, path: Path) -> tuple[list[str], config.Settings, list[Source]]:
    """Config problems as ``ID: problem`` lines, the settings to fetch with, the valid sources."""
    try:
        doc = config.loads(text, path)
    except ConfigError:
        pass
    else:
        return [], doc, doc.source_list()
    raw = _plain(_raw_yaml(text, path))
    if not isinstance(raw, dict):
        raw = {}
    declared = raw.get("sources")
    items: list[Any] = declared if isinstance(declared, list) else []
    problems: list[str] = []
    if declared is not None and not isinstance(declared, list):
        problems.append("config: sources: must be a list of sources")
    valid: list[Source] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        label = _label(item, index)
        try:
            source = config.SourceSettings.model_validate(item)
        except ValidationError as exc:
            problems.extend(f"{label}: {_describe(e)}" for e in exc.errors())
            continue
        if source.id in seen:
            problems.append(f"{label}: id is used by more than one source")
            continue
        seen.add(source.id)
        valid.append(source.to_source())
    settings = _settings_without_sources(raw, path, problems)
    return problems, settings, valid


def _raw_yaml(text: str, path: Path) -> Any:
    try:
        return roster.load_yaml(text, path)
    except ConfigError as exc:
        raise ConfigError(str(path), [f"config: {p}" for p in exc.problems]) from None


def _describe(err: Any) -> str:
    where = ".".join(str(p) for p in err["loc"])
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown setting (misspelt?)"
    return f"{where}: {message}" if where else message


def _settings_without_sources(raw: dict[str, Any], path: Path, problems: list[str]) -> Any:
    rest = {k: v for k, v in raw.items() if k != "sources"}
    try:
        settings = config.Settings.model_validate(rest)
    except ValidationError as exc:
        problems.extend(f"config: {_describe(e)}" for e in exc.errors())
        settings = config.Settings()
    return settings.model_copy(update={"path": path})


def network_problems(sources: Sequence[Source], settings: config.Settings) -> list[str]:
    """Reachability, feed-ness and duplicates (config URL, final URL, self link)."""
    enabled = [s for s in sources if s.enabled]
    checks = discover.check_sources(enabled, settings, utc_now())
    problems: dict[str, list[str]] = {s.id: [] for s in sources}
    for check in checks:
        if check.error:
            problems[check.source_id].append(one_line(check.error))
    for source_id, other in discover.self_link_duplicates(checks, sources).items():
        problems[source_id].append(f"duplicate of {other.id} (same feed as {other.url})")
    return [f"{sid}: {p}" for sid, found in problems.items() for p in found]


def run_validate(config_path: Path) -> None:
    try:
        text = config_path.read_text(encoding="utf-8")
        problems, settings, sources = static_problems(text, config_path)
    except OSError as exc:
        _fail(f"config: cannot read {config_path}: {exc}")
        return
    except ConfigError as exc:
        for line in exc.problems:
            click.echo(line)
        raise SystemExit(1) from None
    problems += network_problems(sources, settings)
    for line in problems:
        click.echo(line)
    if problems:
        click.echo(f"{len(problems)} problem(s) in {config_path}", err=True)
        raise SystemExit(1)
    click.echo(f"{config_path}: {len(sources)} source(s), no problems")


# --------------------------------------------------------------------------------------------
# feeds check / list / remove / export


def run_check(config_path: Path, source_id: str | None) -> None:

    settings = load_settings(config_path)
    sources = settings.source_list()
    if source_id is not None:
        sources = [s for s in sources if s.id == source_id]
        if not sources:
            raise click.UsageError(f"no source with id {source_id!r} in {config_path}")
    else:
        sources = [s for s in sources if s.enabled]
    checks = discover.check_sources(sources, settings, utc_now())
    for check in checks:
        if check.error:
            click.echo(f"{check.source_id}: {one_line(check.error)}")
        else:
            click.echo(f"{check.source_id}: ok, {check.entry_count} entries")
        if check.undated:
            verb = "has" if check.undated == 1 else "have"
            click.echo(
                f"{check.source_id}: {check.undated} of {check.entry_count} entries {verb} no "
                "readable date: dated when first seen"
            )
        for warning in check.warnings:  # entries dropped, bytes replaced: the source still works
            click.echo(f"  warning: {one_line(warning, 160)}")
    failed = sum(1 for c in checks if c.error)
    click.echo(f"{len(checks) - failed} ok, {failed} failing", err=True)
    if failed:
        raise SystemExit(1)


def run_list(config_path: Path) -> None:

    settings = load_settings(config_path)
    sources = settings.source_list()
    width = max((len(s.id) for s in sources), default=2)
    for s in sources:
        state = "" if s.enabled else " (disabled)"
        click.echo(f"{s.id:<{width}}  {s.language:<3} {s.url}  {s.name} — {s.organisation}{state}")
    click.echo(f"{len(sources)} source(s)", err=True)


def run_remove(config_path: Path, source_id: str) -> None:

    load_settings(config_path)  # refuse to edit a file that is already invalid
    try:
        roster.remove_source(config_path, source_id)
    except KeyError:
        _fail(f"no source with id {source_id!r} in {config_path}")
    except ConfigError as exc:
        _fail(f"{config_path} was not changed: {'; '.join(exc.problems)}")
    click.echo(f"Removed source {source_id} from {config_path}")


def run_export(config_path: Path, out: Path | None) -> None:

    settings = load_settings(config_path)
    data = roster.write_opml(settings.source_list(), title=settings.site.title, now=utc_now())
    if out is None:
        click.echo(data, nl=False)  # bytes: written as they are, UTF-8 declared inside
        return
    out.write_bytes(data)
    click.echo(f"Wrote {len(settings.sources)} source(s) to {out}")


# --------------------------------------------------------------------------------------------
# feeds pending / approve / reject (member submissions from the web form)


def run_pending(config_path: Path) -> None:

    settings = load_settings(config_path)
    with opened_store(settings) as store:
        waiting = store.list_submissions("pending")
    for sub in waiting:
        title = json.loads(sub.preview_json or "{}").get("title") or "(no title)"
        click.echo(
            f"{sub.id}  {sub.created:%Y-%m-%d %H:%M}  {sub.feed_url}  {one_line(str(title), 60)} | "
            f"organisation={one_line(sub.organisation)} | contact={sub.contact} | "
            f"language={sub.language}"
        )
    click.echo(f"{len(waiting)} submission(s) waiting for review", err=True)


def run_decide(config_path: Path, ident: int, reason: str | None, mail: bool = True) -> None:
    """Approve (``reason`` None) or reject a submission; the member is mailed the outcome."""

    settings = load_settings(config_path)
    with opened_store(settings) as store:
        try:
            if reason is None:
                new = moderation.approve(store, config_path, ident, utc_now())
            else:
                moderation.reject(store, ident, reason, utc_now())
        except moderation.ApprovalError as exc:
            _fail(f"refused: {exc}")
            return
        told = _tell_member(store, settings, ident) if mail else None
    if reason is None:
        print_entry(new)
        click.echo(f"Approved submission {ident}: added source {new.id} to {config_path}")
    else:
        click.echo(f"Rejected submission {ident}")
    if told is not None:
        click.echo(told)


def _tell_member(store: Store, settings: config.Settings, ident: int) -> str:
    """Mail the member the outcome (as the console does), in their form's language."""
    sub = store.get_submission(ident)
    if sub is None:
        return f"Submission {ident} is gone: nobody was told"
    msg = outcomes.outcome_message(
        sub,
        approved=sub.state == "approved",
        reason=sub.reason or "",
        settings=settings,
        now=utc_now(),
    )
    error = outcomes.deliver(msg, settings)
    if error:
        return f"The e-mail to {sub.contact} was not sent: {error}"
    return f"{sub.contact} was told by e-mail"


# --------------------------------------------------------------------------------------------
# The `feeds` group


@click.group()
def feeds() -> None:
    """The member sources: their health and configuration."""


@feeds.command("status")
@config_option
def feeds_status(config_path: Path) -> None:
    """Each source's health: last success, last error, failures, next fetch."""
    settings = load_settings(config_path)
    now = utc_now()
    with opened_store(settings) as store:
        store.sync_sources(settings.source_list())
        states = store.get_states()
    table = Table("id", "state", "last success", "failures", "next fetch", "entries", "last error")
    flag_after = settings.fetch.failing_days
    for source in settings.source_list():
        st = states[source.id]
        failing = failing_for(st, now)
        if not source.enabled:
            label = "[dim]disabled[/]"
        elif st.gone:
            label = "[red]gone (410)[/]"
        elif failing is not None and failing.days >= flag_after:
            label = f"[bold red]failing {failing.days} d[/]"
        elif st.consecutive_failures:
            label = "[yellow]failing[/]"
        elif st.last_success is None:
            label = "[dim]never fetched[/]"
        else:
            label = "[green]ok[/]"
        table.add_row(
            source.id,
            label,
            when(st.last_success) if st.last_success else "-",
            str(st.consecutive_failures),
            when(st.next_fetch) if st.next_fetch else "-",
            str(st.entries_seen),
            (st.last_error or "")[:80],
        )
    console.print(table)


@feeds.command("add")
@config_option
@click.argument("url")
@click.option("--id", "source_id", help="The source's id (default: a slug of the org/title).")
@click.option("--name", help="Display name (default: the feed's title).")
@click.option("--org", help="Organisation (default: the name).")
@click.option("--lang", help="Language of its posts (default: what the feed declares).")
@click.option("--tags", help="Comma-separated tags.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def add(
    config_path: Path,
    url: str,
    source_id: str | None,
    name: str | None,
    org: str | None,
    lang: str | None,
    tags: str | None,
    yes: bool,
) -> None:
    """Find the feed at URL (a feed or a page), preview it and add it to feeds.yaml."""
    choices = discover.Choices(source_id, name, org, lang, _tags(tags))
    run_add(config_path, url, choices, yes)


@feeds.command("list")
@config_option
def list_(config_path: Path) -> None:
    """Every configured source: id, language, feed URL, name and organisation."""
    run_list(config_path)


@feeds.command("remove")
@config_option
@click.argument("source_id", metavar="ID")
def remove(config_path: Path, source_id: str) -> None:
    """Remove a source from feeds.yaml (other lines, comments and order are kept)."""
    run_remove(config_path, source_id)


@feeds.command("check")
@config_option
@click.argument("source_id", metavar="[ID]", required=False)
def check(config_path: Path, source_id: str | None) -> None:
    """Fetch now and report each enabled source: ok with its entry count, or the error."""
    run_check(config_path, source_id)


@feeds.command("validate")
@config_option
def validate(config_path: Path) -> None:
    """Check every source: config, reachable, a feed, no duplicate ('ID: problem' lines)."""
    run_validate(config_path)


@feeds.command("import")
@config_option
@click.argument("opml", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def import_(config_path: Path, opml: Path, yes: bool) -> None:
    """Add every feed of an OPML file; reports each as added, duplicate or failed."""
    run_import(config_path, opml, yes)


@feeds.command("export")
@config_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Default: stdout.")
def export(config_path: Path, out: Path | None) -> None:
    """Write every source as OPML 2.0 (for feed readers and other aggregators)."""
    run_export(config_path, out)


@feeds.command("pending")
@config_option
def pending(config_path: Path) -> None:
    """Member submissions from the web form waiting for review (id first)."""
    run_pending(config_path)


_MAIL = click.option(
    "--mail/--no-mail", default=True, help="Tell the member by e-mail (default) or not."
)


@feeds.command("approve")
@config_option
@click.argument("ident", metavar="ID", type=int)
@_MAIL
def approve(config_path: Path, ident: int, mail: bool) -> None:
    """Add a pending submission to feeds.yaml (with its contact) and mark it approved."""
    run_decide(config_path, ident, None, mail)


@feeds.command("reject")
@config_option
@click.argument("ident", metavar="ID", type=int)
@click.option("--reason", required=True, help="Why, in one line (sent to the member).")
@_MAIL
def reject(config_path: Path, ident: int, reason: str, mail: bool) -> None:
    """Reject a pending submission with a reason."""
    run_decide(config_path, ident, reason, mail)
