"""API tokens: random secrets handed out once, stored only as their sha256; listed, revoked, rotated, expiring.

A token's id is the first 12 hex digits of its digest: enough to name it in ``grader token revoke``,
useless for signing in (the digest itself is never shown in full, and it is not the token).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import cast

from grader.store.records import Role, Token
from grader.store.submissions import Store, parse_token, token_key

ID_LENGTH = 12


def digest(token: str) -> str:
    # Tokens are 256-bit random values, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def token_id(token_digest: str) -> str:
    """The short, shareable name of a token (a prefix of its digest)."""
    return token_digest[:ID_LENGTH]


def issue_token(store: Store, role: Role, subject: str, expires_at: datetime | None = None) -> str:
    """Create a token for ``subject`` with ``role``; the clear text is returned once and never stored."""
    token = f"{role.value}_{secrets.token_urlsafe(32)}"
    store.save_token(
        digest(token), Token(role=role, subject=subject, created_at=datetime.now(UTC), expires_at=expires_at)
    )
    return token


def usable(token: Token | None, when: datetime | None = None) -> Token | None:
    """``token`` unless it has expired (an expired token is refused like a missing one)."""
    if token is None or (token.expires_at is not None and token.expires_at <= (when or datetime.now(UTC))):
        return None
    return token


def resolve_token(store: Store, token: str) -> Token | None:
    """The holder of the clear-text ``token``, or None (unknown, revoked or expired)."""
    return usable(store.token(digest(token))) if token else None


def resolve_digest(store: Store, token_digest: str) -> Token | None:
    """As ``resolve_token``, from a digest a session or a sign-in link keeps."""
    return usable(store.token(token_digest)) if token_digest else None


def all_tokens(store: Store) -> dict[str, Token]:
    """Every stored token by digest, oldest first (expired ones included: ``token list`` shows them)."""
    found: dict[str, Token] = {}
    prefix = token_key("")
    for key in cast("list[str]", list(store.r.scan_iter(match=f"{prefix}*", count=500))):
        token = parse_token(store.r.hgetall(key))
        if token is not None:
            found[key.removeprefix(prefix)] = token
    return dict(sorted(found.items(), key=lambda item: item[1].created_at))


def find_tokens(store: Store, *, token_ref: str = "", subject: str = "", role: Role | None = None) -> dict[str, Token]:
    """Tokens whose id (or full digest) starts with ``token_ref``, or held by ``subject`` (and of ``role``)."""
    return {
        d: t
        for d, t in all_tokens(store).items()
        if (not token_ref or d.startswith(token_ref.lower()))
        and (not subject or t.subject == subject)
        and (role is None or t.role == role)
    }


def revoke(store: Store, token_digests: list[str]) -> int:
    """Delete these tokens; their page sessions and unused sign-in links stop working with them (both
    resolve through the token's digest on every request). Returns how many existed."""
    return int(store.r.delete(*(token_key(d) for d in token_digests))) if token_digests else 0
