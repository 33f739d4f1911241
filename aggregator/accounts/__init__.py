"""Staff accounts: who may do what in the console, and the decisions about signing in.

Enters: an account record from the store, a password typed, a token from a link, and ``now``.
Leaves: decisions as values (a hash to store, a lockout to record, an account id a reset link
stands for, whether a role holds a permission).  Nothing here reads the clock, the store or
the network; ``web.console`` does the I/O around these decisions.

``roles``: the three roles and what each may do.  ``passwords``: argon2id hashing
(argon2-cffi, imported here only) and the password rules.  ``lockout``: per-account delays
that grow with each wrong password.  ``tokens``: signed, expiring password-reset links
(through ``aggregator.signing``), void once the password changed.
"""
