"""Members: the network's organisations and their feeds.

Enters: a feed or site URL a member gives, ``feeds.yaml``, and the store's submissions and
source states.  Leaves: ``feeds.yaml`` edited in place (comments and order kept), candidates
with a preview or a refusal saying why, moderation decisions, and owner notices by email.

* ``discover``: finds the feed behind a URL and previews it (the same checks for the CLI and the
  web form; a member's submission never gets the operator's private-address exceptions);
  ``refusals`` says why a URL was refused as a kind plus parameters, worded per reader, and
  ``preview`` words the parser's warnings;
* ``roster``: reads and edits ``feeds.yaml`` and OPML;
* ``moderation``: approves (writes the source) or rejects (keeps the reason) a submission;
* ``notify``: one email to a source's contact per change of state (failing, gone, moved, quiet);
  ``outcomes`` tells a member whether their proposed feed was accepted; ``letters`` is the one
  frame both mails are built in.
"""
