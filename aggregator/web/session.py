"""Sessions and CSRF for the member pages: aiohttp-session with an encrypted cookie.

The session lives entirely in one cookie, encrypted and authenticated with Fernet (AES-CBC plus
HMAC-SHA256), so the server keeps no session table and a visitor cannot read or forge it.  It
holds a random value, the CSRF token, which every form carries back in a hidden field (a
cross-site POST has the cookie at worst, but cannot read the page, so it cannot know the token),
and the language the visitor chose on a page's language switch, if they chose one.
The cookie is HttpOnly, SameSite=Strict, and Secure whenever the request came over https.

The Fernet key is derived (HKDF-SHA256) from the site secret (``aggregator.secret``:
``AGGREGATOR_SECRET``, else a random secret kept in ``.aggregator-secret`` beside
``feeds.yaml``).  Servers sharing the secret accept each other's sessions; changing it ends
every session.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import Mapping

from aiohttp import web
from aiohttp.typedefs import Middleware
from aiohttp_session import Session, get_session, new_session, session_middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from aggregator.secret import SECRET_ENV, SECRET_FILE, load_secret
from aggregator.web.clients import was_https

__all__ = [
    "SECRET_ENV",
    "SECRET_FILE",
    "SESSION_COOKIE",
    "chosen_language",
    "csrf_token",
    "end_session",
    "fresh_session",
    "keep_language",
    "load_secret",
    "posted_token",
    "session_of",
    "sessions_middleware",
]

SESSION_COOKIE = "aggregator_session"
CSRF_KEY = "csrf"
LANGUAGE_KEY = "lang"
_KEY_PURPOSE = b"aggregator member session cookie, v1"


def cookie_cipher(secret: bytes) -> Fernet:
    """A Fernet key of its own for the cookie: the site secret may be any length and may serve
    other purposes later, so it is never used as a key directly."""
    key = HKDF(algorithm=SHA256(), length=32, salt=None, info=_KEY_PURPOSE).derive(secret)
    return Fernet(base64.urlsafe_b64encode(key))


class _SessionCookie(EncryptedCookieStorage):
    """The library's encrypted cookie, marked Secure when the visitor's connection was https
    (the request itself, or behind a trusted proxy that ended TLS: ``web.clients``); the same
    server may be reached over plain http on a trusted network."""

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        await super().save_session(request, response, session)
        cookie = response.cookies.get(self.cookie_name)
        if cookie is not None and was_https(request):
            cookie["secure"] = True


def sessions_middleware(secret: bytes) -> Middleware:
    """aiohttp-session's middleware over the encrypted cookie (a browser-session cookie)."""
    storage = _SessionCookie(
        cookie_cipher(secret), cookie_name=SESSION_COOKIE, httponly=True, samesite="Strict"
    )
    return session_middleware(storage)


async def csrf_token(request: web.Request) -> str:
    """The session's CSRF token for a form; the first page of a visit creates the session."""
    session = await get_session(request)
    token = session.get(CSRF_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_KEY] = token
    return token


async def posted_token(request: web.Request, form: Mapping[str, str]) -> str | None:
    """The session's token when the posted one matches it (constant time); None for a forged,
    stale or cookieless POST."""
    session = await get_session(request)
    expected = session.get(CSRF_KEY)
    given = form.get(CSRF_KEY, "")
    if not isinstance(expected, str) or not given:
        return None
    if not hmac.compare_digest(expected.encode(), given.encode()):
        return None
    return expected


async def chosen_language(request: web.Request) -> str | None:
    """The language the visitor chose earlier in this session, if any."""
    session = await get_session(request)
    chosen = session.get(LANGUAGE_KEY)
    return chosen if isinstance(chosen, str) else None


async def keep_language(request: web.Request, language: str) -> None:
    """Remember the visitor's choice of language for the rest of the session."""
    session = await get_session(request)
    if session.get(LANGUAGE_KEY) != language:
        session[LANGUAGE_KEY] = language


async def session_of(request: web.Request) -> Session:
    """The visitor's session (the console keeps the signed-in account in it)."""
    return await get_session(request)


async def fresh_session(request: web.Request) -> Session:
    """A new, empty session in place of the current one: signing in starts one, so a session
    made before (by anyone who could plant a cookie) never becomes a signed-in one."""
    return await new_session(request)


async def end_session(request: web.Request) -> None:
    """Forget everything in the session (signing out)."""
    session = await get_session(request)
    session.invalidate()
