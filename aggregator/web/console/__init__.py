"""The staff console: communications staff run the network from a browser, at ``/console``.

Enters: requests from signed-in staff (accounts and roles: ``aggregator.accounts``).  Leaves:
pages in the account's language, and changes made through the same functions the CLI uses:
moderation (``members.moderation``, with the member's outcome mail), takedowns and source
holds (``store.takedowns``), edition curation and sends (``newsletter``), accounts.

``routes`` holds the route table and the gate (session, language, sign-in, role, CSRF);
``auth`` signing in and out and password reset; one module per page: ``dashboard``,
``sources``, ``posts``, ``editions``, ``moderation``, ``subscribers`` (over
``subscribers.staff``), ``users``; ``pages`` renders them
(templates under ``templates/console/``), ``mails`` the reset link.  No page runs a script;
the digest draft is shown in a sandboxed iframe under a CSP of its own.
"""

from __future__ import annotations

from aggregator.web.console.routes import add_console_routes

__all__ = ["add_console_routes"]
