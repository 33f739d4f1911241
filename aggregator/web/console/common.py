"""Small things every console handler needs: the store off the event loop, the audit entry
of an action by the signed-in account, and the path parameters read safely."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from aiohttp import web

from aggregator.store.protocol import Store
from aggregator.store.staff import AuditEntry
from aggregator.web.console.state import ACCOUNT
from aggregator.web.state import MEMBERS_KEY

__all__ = ["audit_entry", "in_thread", "store_of"]

P = ParamSpec("P")
R = TypeVar("R")


async def in_thread(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run blocking store or mail work in a thread, so the server keeps answering."""
    return await asyncio.to_thread(fn, *args, **kwargs)


async def store_of(request: web.Request) -> Store:
    return await in_thread(request.app[MEMBERS_KEY].store)


def audit_entry(request: web.Request, action: str, target: str, reason: str = "") -> AuditEntry:
    """What the signed-in account did, now, for the audit log."""
    account = request[ACCOUNT]
    now = request.app[MEMBERS_KEY].now()
    return AuditEntry(at=now, actor=account.email, action=action, target=target, reason=reason)
