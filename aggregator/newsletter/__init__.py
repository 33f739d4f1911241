"""The email digest: editions of the posts first seen since the last one, mailed once each.

What enters: the store (posts, sources and the ledger of editions and recipients), the
settings (site, ``digest.editions``, SMTP), an edition's name and ``now``, handed in by the CLI,
the scheduler's job or the demo; nothing here reads the clock.

What leaves: preview files (``.html``, ``.txt`` and a whole ``.eml`` in ``digest.output_dir``),
messages handed to the SMTP server, one per recipient, and ledger rows (the edition with its
window and posts; each recipient PENDING, SENDING, SENT or FAILED), which make a second run send
nothing twice.

``digest`` holds the two entry points, ``preview`` and ``send``; ``editions`` picks the posts,
``render`` builds the email (premailer's only importer), ``prepare`` gives preview and send the
same edition, ``ondisk`` points the preview file's images at the published copies,
``audience`` picks the recipients (feeds.yaml's static list and the confirmed subscribers who
chose the edition), ``delivery`` claims and mails, ``bulk`` splices each copy from one built
message, ``confirmation`` is the double opt-in mail, and ``mail`` builds messages and speaks
SMTP (smtplib's only importer).
"""
