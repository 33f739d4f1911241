"""``serve``: the published site over HTTP, the member pages and the staff console beside it.

What enters: HTTP requests, the store (opened on the first member or console page, never for
static files) and the settings (``feeds.yaml``, the site secret from the environment).
What leaves: files from the output directory, member pages in the visitor's language,
submissions stored in the moderation queue, and the console's pages and actions (an approval
also writes ``feeds.yaml``, through ``members.moderation``).

- ``app``: the application and the static files, with their validators and security headers.
- ``members``: the member routes and the gate each passes (language, session, CSRF).
- ``submit``, ``sources``: one module per member page.
- ``console``: the staff console (accounts and roles, dashboard, sources, posts, editions,
  moderation), a package of its own with its gate.
- ``clients``: the real client address behind trusted proxies, for every rate limit.
- ``language``: which language a visitor reads (``?lang=``, the session, ``Accept-Language``).
- ``forms``, ``session``, ``ratelimit``, ``drafts``, ``state``, ``pages``: what those pages share.
"""
