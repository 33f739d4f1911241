"""What readers see of a post, shared by the pages (``publish``) and the digest (``newsletter``).

Enters: posts, the settings, the store's sources and the lead images fetched into the output
directory.  Leaves: words and pictures ready to show: names and topic labels in the reader's
language (``names``, ``topics``), the language versions a post links to (``siblings``), local
image variants with their sizes and alt text (``images``, fetched by ``imagefetch``), and an
optional machine-translated title (``machine``).  Text is cleaned for every format (``text``).
Decisions are pure; only ``imagefetch`` does I/O, called by the cycle before a publish.
"""
