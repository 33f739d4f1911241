"""Roles and permissions: one table says what each role may do, every page asks it.

Three roles, because three kinds of people use the console: an **admin** runs the accounts
and everything else; an **editor** curates and sends the digest, looks after sources,
subscribers and moderation; a **moderator** reviews member submissions and takes down posts,
but never reaches edition sending or the accounts.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

__all__ = ["PERMISSIONS", "Permission", "Role", "can", "parse_role"]


class Role(enum.StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    MODERATOR = "moderator"


class Permission(enum.StrEnum):
    DASHBOARD = "dashboard"
    MODERATE = "moderate"  # approve or reject member submissions
    TAKEDOWN = "takedown"  # hide and unhide posts
    SOURCES = "sources"  # disable, enable, remove, restore sources
    CURATE = "curate"  # edit an edition's draft, test-send it
    SEND = "send"  # schedule or send an edition to its recipients
    SUBSCRIBERS = "subscribers"
    ACCOUNTS = "accounts"  # add, change and remove staff accounts


PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.EDITOR: frozenset(Permission) - {Permission.ACCOUNTS},
    Role.MODERATOR: frozenset({Permission.DASHBOARD, Permission.MODERATE, Permission.TAKEDOWN}),
}


def can(role: str, permission: Permission) -> bool:
    """Whether an account of ``role`` may do ``permission``; an unknown role may do nothing."""
    known = parse_role(role)
    return known is not None and permission in PERMISSIONS[known]


def parse_role(value: str) -> Role | None:
    try:
        return Role(value.strip().lower())
    except ValueError:
        return None
