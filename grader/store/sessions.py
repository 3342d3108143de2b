"""Server-side sessions of the web pages, and one-time sign-in links.

Keys (prefix ``grader:``):
- ``session:<sha256 of the session id>``  the digest of the token it was opened with; expires with the session
- ``signin:<sha256 of the link secret>``  the digest of the token a sign-in link opens a session for; deleted
  when used, expires unused

The cookie carries a random session id, never the API token: signing out deletes the session on the
server, and a session (like an unused link) resolves through its token's digest on every request, so
revoking, rotating or expiring the token ends them too. Only digests are stored, so a copy of Redis
signs nobody in.
"""

from __future__ import annotations

import secrets

from grader.store.records import Token
from grader.store.submissions import P, Store
from grader.store.tokens import digest, resolve_digest

SESSION_PREFIX = "s_"
LINK_PREFIX = "link_"


def _session_key(session_id: str) -> str:
    return f"{P}session:{digest(session_id)}"


def _link_key(secret: str) -> str:
    return f"{P}signin:{digest(secret)}"


def open_session(store: Store, token_digest: str, seconds: int) -> str:
    """A new session for the holder of the token ``token_digest``; returns its id (for the cookie)."""
    session_id = SESSION_PREFIX + secrets.token_urlsafe(32)
    store.r.set(_session_key(session_id), token_digest, ex=seconds)
    return session_id


def session_user(store: Store, session_id: str) -> Token | None:
    """Who the session belongs to; None when it ended, or its token was revoked or expired."""
    if not session_id.startswith(SESSION_PREFIX):
        return None
    token_digest = store.r.get(_session_key(session_id))
    return resolve_digest(store, str(token_digest)) if token_digest else None


def end_session(store: Store, session_id: str) -> None:
    if session_id:
        store.r.delete(_session_key(session_id))


def issue_link(store: Store, token_digest: str, seconds: int) -> str:
    """A one-time sign-in secret for the holder of ``token_digest``, valid ``seconds`` unless used."""
    secret = LINK_PREFIX + secrets.token_urlsafe(32)
    store.r.set(_link_key(secret), token_digest, ex=seconds)
    return secret


def redeem_link(store: Store, secret: str) -> str | None:
    """The token digest a sign-in link stands for, consuming the link (GETDEL: two tabs cannot both use it);
    None when it is unknown, used, expired, or its token no longer works."""
    if not secret.startswith(LINK_PREFIX):
        return None
    token_digest = store.r.getdel(_link_key(secret))
    if not token_digest or resolve_digest(store, str(token_digest)) is None:
        return None
    return str(token_digest)
