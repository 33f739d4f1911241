"""``subscribers``: the digest's list for staff: list, add, remove, import, export, forget, and
reading the bounce mailbox.

``export`` without an address writes the whole list as CSV (consent columns included);
``export ADDRESS`` writes everything held on one person as JSON (GDPR art. 15/20); ``forget
ADDRESS`` erases it, keeping only a hash on the suppression list (art. 17), so that no import
brings the address back.  The work is done by ``aggregator.subscribers.staff``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from aggregator import config
from aggregator.cli.common import (
    config_option,
    console,
    err_console,
    load_settings,
    opened_store,
    when,
)
from aggregator.clock import utc_now
from aggregator.errors import AggregatorError
from aggregator.secret import load_secret
from aggregator.store.subscribers import Status
from aggregator.subscribers import rules, staff
from aggregator.subscribers.bounces import process_inbox
from aggregator.subscribers.mailbox import open_inbox
from aggregator.subscribers.tokens import Tokens

_STATUSES = [s.value for s in Status]


@click.group()
def subscribers() -> None:
    """The digest's subscribers (double opt-in list, consent, bounces, GDPR)."""


@subscribers.command("list")
@config_option
@click.option("--status", "statuses", multiple=True, type=click.Choice(_STATUSES))
@click.option("--search", "text", help="Part of the address, any case.")
def list_command(config_path: Path, statuses: tuple[str, ...], text: str | None) -> None:
    """Subscribers in signup order, with their consent."""
    settings = load_settings(config_path)
    with opened_store(settings) as store:
        found = staff.search(store, statuses=[Status(s) for s in statuses], text=text)
        counts = store.count_subscribers()
    # one tab-separated line per subscriber: readable, and whole for grep or a spreadsheet
    for sub in found:
        consent = f"{sub.consent.method} v{sub.consent.version}"
        if sub.consent.note:
            consent += f" ({sub.consent.note})"
        since = when(sub.confirmed or sub.created)
        fields = (sub.address, sub.language, ",".join(sub.editions), sub.status.value, consent)
        click.echo("\t".join((*fields, since)))
    console.print(", ".join(f"{counts.get(s, 0)} {s.value}" for s in Status))


def _language(settings: config.Settings, language: str | None) -> str:
    return (language or settings.site.languages[0]).split("-")[0].lower()


@subscribers.command("add")
@config_option
@click.argument("address")
@click.option("--language", help="Default: the site's first language.")
@click.option("--edition", "editions", multiple=True, help="Default: every edition in it.")
@click.option("--note", required=True, help="Where and when the person agreed (kept as consent).")
def add_command(
    config_path: Path, address: str, language: str | None, editions: tuple[str, ...], note: str
) -> None:
    """Add a confirmed subscriber on your word; never over a suppression."""
    settings = load_settings(config_path)
    with opened_store(settings) as store:
        result = staff.add(
            store,
            settings,
            address,
            utc_now(),
            language=_language(settings, language),
            editions=editions,
            note=note,
        )
    if isinstance(result, rules.Refusal):
        reason = {
            rules.Refusal.SUPPRESSED: "it left, bounced, complained or was forgotten",
            rules.Refusal.EXISTS: "it is already on the list",
        }.get(result, result.value)
        err_console.print(f"[red]not added[/]: {address}: {reason}")
        raise SystemExit(1)
    console.print(f"added {result.address} ({result.language}: {', '.join(result.editions)})")


@subscribers.command("remove")
@config_option
@click.argument("address")
@click.option("--note", help="Why (kept in the history).")
def remove_command(config_path: Path, address: str, note: str | None) -> None:
    """Unsubscribe an address at the person's request (kept, suppressed)."""
    settings = load_settings(config_path)
    with opened_store(settings) as store:
        done = staff.remove(store, address, utc_now(), note)
    if not done:
        err_console.print(f"[red]not on the list[/]: {address}")
        raise SystemExit(1)
    console.print(f"unsubscribed {address}")


@subscribers.command("import")
@config_option
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--note", required=True, help="Where the list's consent was given.")
@click.option("--language", help="For rows without one (default: the site's first).")
def import_command(config_path: Path, csv_file: Path, note: str, language: str | None) -> None:
    """Add the rows of a CSV (address[,language][,editions]); suppressed addresses are
    never re-added."""
    settings = load_settings(config_path)
    text = csv_file.read_text(encoding="utf-8-sig")
    with opened_store(settings) as store:
        report = staff.import_csv(
            store,
            settings,
            text,
            utc_now(),
            note=note,
            default_language=_language(settings, language),
        )
    console.print(str(report))
    for line in report.invalid:
        err_console.print(f"  [yellow]{line}[/]")
    if report.invalid:
        raise SystemExit(1)


@subscribers.command("export")
@config_option
@click.argument("address", required=False)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
def export_command(config_path: Path, address: str | None, output: Path | None) -> None:
    """The whole list as CSV, or with ADDRESS everything held on that person as JSON."""
    settings = load_settings(config_path)
    with opened_store(settings) as store:
        if address is None:
            text = staff.export_csv(store.list_subscribers())
        else:
            data = staff.export_person(store, address)
            if data is None:
                err_console.print(f"nothing is held on {address}")
                raise SystemExit(1)
            text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"written to {output}")


@subscribers.command("forget")
@config_option
@click.argument("address")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def forget_command(config_path: Path, address: str, yes: bool) -> None:
    """Erase everything held on ADDRESS; only its hash stays, on the suppression list."""
    if not yes:
        click.confirm(f"Erase everything held on {address}?", abort=True)
    settings = load_settings(config_path)
    with opened_store(settings) as store:
        done = staff.forget(store, address, utc_now())
    if not done:
        err_console.print(f"nothing is held on {address}")
        raise SystemExit(1)
    console.print(f"forgotten: {address} (its hash stays on the suppression list)")


@subscribers.command("bounces")
@config_option
def bounces_command(config_path: Path) -> None:
    """Read the bounce mailbox once: hard bounces, soft ones and complaints are applied."""
    settings = load_settings(config_path)
    mailbox = settings.subscribers.mailbox
    if mailbox is None:
        raise click.UsageError("no subscribers.mailbox in the configuration")
    tokens = Tokens(load_secret(settings.base_dir, os.environ), utc_now)
    try:
        with (
            opened_store(settings) as store,
            open_inbox(mailbox, settings.base_dir, os.environ) as inbox,
        ):
            outcomes = process_inbox(store, settings, tokens, inbox, utc_now())
    except AggregatorError as exc:
        err_console.print(f"[red]{exc}[/]")
        raise SystemExit(1) from None
    for o in outcomes:
        console.print(f"{o.address}: {o.kind.value} ({o.edition_id or 'no edition'}) -> {o.status}")
    console.print(f"{len(outcomes)} report(s) applied")
