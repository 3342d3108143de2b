"""API tokens: random secrets handed out once, stored only as their sha256."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from grader.store.records import Role, Token
from grader.store.submissions import Store


def digest(token: str) -> str:
    # Tokens are 256-bit random values, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(store: Store, role: Role, subject: str) -> str:
    """Create a token for ``subject`` with ``role``; the clear text is returned once and never stored."""
    token = f"{role.value}_{secrets.token_urlsafe(32)}"
    store.save_token(digest(token), Token(role=role, subject=subject, created_at=datetime.now(UTC)))
    return token


def resolve_token(store: Store, token: str) -> Token | None:
    return store.token(digest(token)) if token else None
