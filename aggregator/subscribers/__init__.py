"""Subscribers: who is on the digest's list, what they agreed to, and how they leave.

What enters: a signup, a link's token, a staff command, a bounce or complaint message, an
edition about to be sent.  What leaves: decisions on one subscription (``rules``: pure, handed
``now``), written through the store (``service``, ``staff``); signed tokens for every link and
VERP envelope sender (``tokens``, through ``aggregator.signing``); bounce and complaint reports
read from a mailbox and applied (``bounces``, flufl.bounce's only importer; ``mailbox``: IMAP,
Maildir, mbox); one person's data as JSON (``staff.export_person``, GDPR art. 15/20) and
their erasure (``staff.forget``, art. 17).

The list's functions for staff (list, search, add, remove, import, export, forget) live in
``staff`` and are what the CLI and a console call; they print nothing.
"""
