"""``users``: staff accounts for the console, from the command line.

``users add EMAIL --role admin|editor|moderator`` is how the first admin comes to exist; the
password is asked twice without echo (or read from standard input with ``--password-stdin``,
for provisioning scripts), checked by the same rules as the console, and stored as an argon2
hash only.  ``list``, ``role``, ``password`` and ``remove`` do the rest.  Every change is
written to the console's audit log as done by ``cli``.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.table import Table

from aggregator.accounts import passwords
from aggregator.accounts.roles import Role
from aggregator.cli.common import config_option, console, load_settings, opened_store, when
from aggregator.i18n import base_language
from aggregator.store.protocol import Store
from aggregator.store.staff import AuditEntry

__all__ = ["users"]

_ROLES = click.Choice([r.value for r in Role])
_PROBLEMS = {
    passwords.PasswordProblem.TOO_SHORT: f"at least {passwords.MIN_LENGTH} characters, please",
    passwords.PasswordProblem.TOO_LONG: f"at most {passwords.MAX_LENGTH} characters, please",
    passwords.PasswordProblem.SAME_AS_EMAIL: "the password may not be the e-mail address",
}


def _password(email: str, from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = passwords.problem(password, email)
    if problem is not None:
        raise click.BadParameter(_PROBLEMS[problem], param_hint="password")
    return password


def _entry(action: str, email: str, reason: str = "") -> AuditEntry:
    return AuditEntry(datetime.now(UTC), "cli", action, f"account:{email}", reason)


@click.group()
def users() -> None:
    """Staff accounts for the web console (/console)."""


@users.command("add")
@config_option
@click.argument("email")
@click.option("--role", type=_ROLES, required=True, help="What the account may do.")
@click.option("--language", default="en", show_default=True, help="The console's language.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def add(config_path: Path, email: str, role: str, language: str, password_stdin: bool) -> None:
    """Add an account; the password is asked twice (never shown, stored as argon2)."""
    settings = load_settings(config_path)
    email = email.strip().lower()
    if "@" not in email or any(c.isspace() for c in email):
        raise click.BadParameter(f"not an e-mail address: {email!r}", param_hint="EMAIL")
    hashed = passwords.Hasher().hash(_password(email, password_stdin))
    with opened_store(settings) as store:
        ident = store.add_account(
            email, role, hashed, base_language(language) or "en", datetime.now(UTC)
        )
        if ident is None:
            raise click.ClickException(f"{email} has an account already")
        store.audit(_entry("account.add", email, role))
    console.print(f"account {email} added as {role}")


@users.command("list")
@config_option
def list_(config_path: Path) -> None:
    """Every account: address, role, language, last sign-in."""
    settings = load_settings(config_path)
    with opened_store(settings) as store:
        table = Table("email", "role", "language", "last sign-in", "locked until")
        for a in store.list_accounts():
            table.add_row(
                a.email,
                a.role,
                a.language,
                when(a.last_login) if a.last_login else "never",
                when(a.locked_until) if a.locked_until else "",
            )
    console.print(table)


def _find(store: Store, email: str) -> int:
    account = store.find_account(email=email)
    if account is None:
        raise click.ClickException(f"no account {email}")
    return int(account.id)


@users.command("role")
@config_option
@click.argument("email")
@click.argument("role", type=_ROLES)
def role(config_path: Path, email: str, role: str) -> None:
    """Give an account another role."""
    settings = load_settings(config_path)
    with opened_store(settings) as store:
        ident = _find(store, email)
        store.update_account(ident, _entry("account.role", email, role), role=role)
    console.print(f"{email} is now {role}")


@users.command("password")
@config_option
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def password(config_path: Path, email: str, password_stdin: bool) -> None:
    """Set an account's password (and lift its lockout)."""
    settings = load_settings(config_path)
    with opened_store(settings) as store:
        ident = _find(store, email)
        hashed = passwords.Hasher().hash(_password(email.strip().lower(), password_stdin))
        store.update_account(ident, _entry("account.password", email), password_hash=hashed)
    console.print(f"password of {email} changed")


@users.command("remove")
@config_option
@click.argument("email")
def remove(config_path: Path, email: str) -> None:
    """Remove an account (its entries in the audit log stay)."""
    settings = load_settings(config_path)
    with opened_store(settings) as store:
        ident = _find(store, email)
        store.remove_account(ident, _entry("account.remove", email))
    console.print(f"account {email} removed")
