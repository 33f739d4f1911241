"""``serve``: the published site over HTTP, and the member pages beside it.

What enters: HTTP requests, the store (opened on the first member page, never for static files)
and the settings (``feeds.yaml``, the site secret and the admin password from the environment).
What leaves: files from the output directory, member pages in the visitor's language, and
submissions stored in the moderation queue (an approval also writes ``feeds.yaml``, through
``members.moderation``).

- ``app``: the application and the static files, with their validators and security headers.
- ``members``: the member routes and the gate each passes (language, session, admin password,
  CSRF).
- ``submit``, ``sources``, ``admin``: one module per member page.
- ``language``: which language a visitor reads (``?lang=``, the session, ``Accept-Language``).
- ``forms``, ``session``, ``ratelimit``, ``drafts``, ``state``, ``pages``: what those pages share.
"""
