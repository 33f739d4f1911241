"""The headers every response of ``serve`` carries: no scripts anywhere, no framing, no sniffing.

Shared by the static outputs (``web.app``) and the member pages (``web.members``).
"""

from __future__ import annotations

from collections.abc import Mapping

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Pages load images only from the site itself: lead images are copies the cycle stored there
# (present/imagefetch.py), so no reader's browser ever contacts a member's server.
# Digest previews are e-mail HTML: their CSS is inlined in style attributes (mail clients ignore
# stylesheets), so that one directory may use inline styles, and their images are addressed on
# the public site (``site.base_url``), which may not be where ``serve`` answers.  Still no
# scripts anywhere.
DIGEST_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'").replace(
    "img-src 'self' data:", "img-src 'self' https: data:"
)
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}
