"""Staff accounts' decisions alone: roles, password rules, lockout delays, reset tokens, and
the ``users`` command line against a real SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from aggregator.accounts import lockout, passwords, tokens
from aggregator.accounts.roles import PERMISSIONS, Permission, Role, can, parse_role
from aggregator.cli.main import main
from aggregator.store import open_store

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_each_role_may_do_what_its_people_need_and_no_more() -> None:
    assert can("admin", Permission.ACCOUNTS) and can("admin", Permission.SEND)
    assert can("editor", Permission.SEND) and not can("editor", Permission.ACCOUNTS)
    assert can("moderator", Permission.MODERATE) and can("moderator", Permission.TAKEDOWN)
    for denied in (Permission.SEND, Permission.CURATE, Permission.ACCOUNTS, Permission.SOURCES):
        assert not can("moderator", denied)
    assert not can("intruder", Permission.DASHBOARD)
    assert parse_role(" Editor ") is Role.EDITOR and parse_role("root") is None
    assert set(PERMISSIONS) == set(Role)


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", passwords.PasswordProblem.TOO_SHORT),
        ("x" * 300, passwords.PasswordProblem.TOO_LONG),
        ("Ana@Example.org ", passwords.PasswordProblem.SAME_AS_EMAIL),
        ("four unrelated words", None),
    ],
)
def test_password_rules(password: str, problem: passwords.PasswordProblem | None) -> None:
    assert passwords.problem(password, "ana@example.org") is problem


def test_hashes_are_argon2id_and_verify_only_the_right_password() -> None:
    hasher = passwords.cheap_hasher()
    stored = hasher.hash("four unrelated words")
    assert stored.startswith("$argon2id$")
    assert hasher.verify(stored, "four unrelated words")
    assert not hasher.verify(stored, "four unrelated word")
    assert not hasher.verify(None, "four unrelated words")  # no account: same work, refused
    assert not hasher.verify("not a hash", "x")
    assert passwords.Hasher().needs_rehash(stored)  # cheap test parameters get upgraded
    assert passwords.Hasher().needs_rehash("garbage")


def test_lockout_delays_double_after_three_free_tries_up_to_an_hour() -> None:
    assert [lockout.delay_after(n) for n in range(1, 8)] == [0, 0, 0, 15, 30, 60, 120]
    assert lockout.delay_after(40) == lockout.MAX_DELAY_S
    failure = lockout.record_failure(3, NOW)
    assert failure.failures == 4 and failure.locked_until == NOW + timedelta(seconds=15)
    assert lockout.record_failure(0, NOW).locked_until is None
    assert lockout.wait_left(NOW + timedelta(seconds=14.2), NOW) == 15
    assert lockout.wait_left(NOW - timedelta(seconds=1), NOW) == 0
    assert lockout.wait_left(None, NOW) == 0


def test_reset_tokens_expire_and_die_with_the_password() -> None:
    secret = b"s" * 32
    token = tokens.make_reset_token(secret, 7, "$argon2id$old", NOW)
    claim = tokens.read_reset_token(secret, token, NOW + timedelta(minutes=59))
    assert claim is not None and claim[0] == 7
    assert tokens.still_valid(claim, "$argon2id$old")
    assert not tokens.still_valid(claim, "$argon2id$new")  # used: the hash changed
    assert tokens.read_reset_token(secret, token, NOW + timedelta(minutes=61)) is None
    assert tokens.read_reset_token(b"t" * 32, token, NOW) is None  # another site's secret
    assert tokens.read_reset_token(secret, token[:-2] + "xx", NOW) is None
    assert tokens.read_reset_token(secret, "garbage", NOW) is None


@pytest.mark.slow  # real argon2 parameters, as the command uses them
def test_users_command_adds_lists_changes_and_removes_accounts(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("sources: []\n", encoding="utf-8")
    run = CliRunner().invoke
    added = run(
        main,
        [
            "users",
            "add",
            "Ana@Example.org",
            "--role",
            "admin",
            "--language",
            "fr",
            "--password-stdin",
            "--config",
            str(path),
        ],
        input="four unrelated words\n",
    )
    assert added.exit_code == 0, added.output
    assert "account ana@example.org added as admin" in added.output
    again = run(
        main,
        [
            "users",
            "add",
            "ana@example.org",
            "--role",
            "editor",
            "--password-stdin",
            "--config",
            str(path),
        ],
        input="four unrelated words\n",
    )
    assert again.exit_code == 1 and "has an account already" in again.output
    weak = run(
        main,
        [
            "users",
            "add",
            "bo@example.org",
            "--role",
            "editor",
            "--password-stdin",
            "--config",
            str(path),
        ],
        input="short\n",
    )
    assert weak.exit_code == 2 and "at least 12 characters" in weak.output
    listed = run(main, ["users", "list", "--config", str(path)])
    assert "ana@example.org" in listed.output and "never" in listed.output
    assert (
        run(main, ["users", "role", "ana@example.org", "editor", "--config", str(path)]).exit_code
        == 0
    )
    changed = run(
        main,
        ["users", "password", "ana@example.org", "--password-stdin", "--config", str(path)],
        input="five unrelated words now\n",
    )
    assert changed.exit_code == 0, changed.output
    store = open_store(f"sqlite:///{tmp_path / 'aggregator.sqlite3'}")
    try:
        account = store.find_account(email="ana@example.org")
        assert account is not None and account.role == "editor" and account.language == "fr"
        assert passwords.Hasher().verify(account.password_hash, "five unrelated words now")
        assert (
            run(main, ["users", "remove", "ana@example.org", "--config", str(path)]).exit_code == 0
        )
        assert store.find_account(email="ana@example.org") is None
        assert [e.action for e in store.audit_entries()][:2] == [
            "account.remove",
            "account.password",
        ]
    finally:
        store.close()
    missing = run(main, ["users", "remove", "ana@example.org", "--config", str(path)])
    assert missing.exit_code == 1 and "no account ana@example.org" in missing.output
