"""``digest``: preview, send and list the email digest's editions.

``send`` is idempotent (nobody gets an edition twice).  Its exit status says what a script
needs to know: 0 all done, 1 some recipients refused by the server, 3 another send of the same
edition holds its lock, 4 the SMTP session failed (closed port, refused greeting, timeout,
dropped connection, even one recovered on a new session): the addresses not sent and those
left unconfirmed are listed on stderr.
``--to`` sends one ``[TEST]`` copy without touching the ledger.  ``list`` names, under the
table, the unconfirmed addresses of each edition (in flight when a send stopped; never resent
automatically) so that staff can resend by hand.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from aggregator import config
from aggregator.cli.common import (
    config_option,
    console,
    err_console,
    load_settings,
    opened_store,
    when,
)
from aggregator.cycle import held_lock
from aggregator.errors import ConfigError, LockedError
from aggregator.jobs import digest_now
from aggregator.newsletter.delivery import SendReport, unconfirmed
from aggregator.newsletter.digest import preview, send
from aggregator.store.protocol import Store


@click.group(invoke_without_command=True)
@config_option
@click.pass_context
def digest(ctx: click.Context, config_path: Path) -> None:
    """Email digests. Without a subcommand: preview every edition."""
    if ctx.invoked_subcommand is None:
        settings = load_settings(config_path)
        with opened_store(settings) as store:
            for edition in settings.digest.editions:
                _preview(store, settings, edition.name)


def _preview(store: Store, settings: config.Settings, name: str) -> None:
    files = preview(store, settings, name, digest_now(store))
    if not files.saved:
        for note in files.edition.notes:
            console.print(f"Digest {name}: {note}")
        return
    console.print(f"Digest [bold]{name}[/] ({len(files.edition.post_ids)} posts):")
    for note in files.edition.notes:
        console.print(f"  [yellow]note:[/] {note}")
    console.print(f"  HTML: {files.html_path}\n  text: {files.text_path}\n  eml:  {files.eml_path}")


@digest.command("preview")
@config_option
@click.argument("edition", required=False)
def digest_preview(config_path: Path, edition: str | None) -> None:
    """Write the .html, .txt and .eml of an edition (default: every edition)."""
    settings = load_settings(config_path)
    names = [edition] if edition else [e.name for e in settings.digest.editions]
    for name in names:
        _check_edition(settings, name)
    with opened_store(settings) as store:
        for name in names:
            _preview(store, settings, name)


def _check_edition(settings: config.Settings, name: str) -> None:
    try:
        settings.edition(name)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


@digest.command("send")
@config_option
@click.argument("edition")
@click.option("--to", "to", metavar="ADDRESS", help="Send one [TEST] copy here; ledger untouched.")
@click.pass_context
def digest_send(ctx: click.Context, config_path: Path, edition: str, to: str | None) -> None:
    """Send an edition to its recipients (idempotent: nobody gets it twice)."""
    settings = load_settings(config_path)
    _check_edition(settings, edition)
    with opened_store(settings) as store:
        try:
            if to:
                result = send(store, settings, edition, digest_now(store), to=to)
            else:
                with held_lock(store, f"digest:{edition}"):
                    result = send(store, settings, edition, digest_now(store))
        except LockedError as exc:
            err_console.print(f"[red]{exc}[/]")
            raise SystemExit(3) from None
    console.print(str(result))
    if result.error is not None or result.lost:
        _report_stopped(result)
        ctx.exit(SESSION_FAILED)
    if result.failed:
        ctx.exit(1)


SESSION_FAILED = 4  # the exit status of a send whose SMTP session failed or was lost


def _report_stopped(result: SendReport) -> None:
    """On stderr, for the operator and the service manager's log: what did not go out."""
    reason = result.error or (
        f"the SMTP session was lost while sending to {', '.join(result.lost)}; "
        "the rest went out on a new session"
    )
    err_console.print(f"[red]digest send failed: {reason}[/]")
    for address in result.unsent:
        err_console.print(f"  not sent: {address}")
    for address in result.unconfirmed:
        err_console.print(f"  unconfirmed (not resent): {address}")


@digest.command("list")
@config_option
def digest_list(config_path: Path) -> None:
    """Past editions and their delivery status."""
    settings = load_settings(config_path)
    in_flight: list[tuple[str, tuple[str, ...]]] = []
    with opened_store(settings) as store:
        table = Table("edition", "window", "posts", "recipients", "status")
        for ed in store.list_editions():
            stuck = unconfirmed(store, ed.id)
            if stuck:
                in_flight.append((ed.id, stuck))
            states = [r.state.value for r in store.recipients(ed.id)]
            summary = ", ".join(f"{states.count(s)} {s}" for s in sorted(set(states))) or "-"
            start = when(ed.window_start) if ed.window_start else "start"
            table.add_row(
                ed.id,
                f"{start} → {when(ed.window_end)}",
                str(len(ed.post_ids)),
                summary,
                "sent" if ed.sent else "not sent",
            )
    console.print(table)
    for edition_id, addresses in in_flight:
        console.print(
            f"{edition_id}: {len(addresses)} unconfirmed (in flight when a send stopped; "
            "never resent automatically; check and resend by hand):",
            highlight=False,
        )
        for address in addresses:
            console.print(f"  {address}")
