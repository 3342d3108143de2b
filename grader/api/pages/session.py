"""Who is signed in to the pages: a server-side session named by an HttpOnly cookie, and CSRF protection.

The cookie holds a random session id, never the API token (``grader.store.sessions``): signing out ends
the session on the server, and revoking, rotating or expiring the token ends every session opened with
it. ``SameSite=Lax`` keeps the cookie off cross-site POSTs, and every state-changing form also carries a
CSRF token derived from the session id (an attacker's page can neither read the cookie nor compute the
HMAC) and must come from our own origin.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, Response, status

from grader.api.deps import Services
from grader.store.records import Role, Token
from grader.store.sessions import end_session, open_session, session_user

COOKIE = "grader_session"
SESSION_SECONDS = 7 * 24 * 3600


def session_token(request: Request) -> str:
    return request.cookies.get(COOKIE, "")


def current_page_user(request: Request, services: Services) -> Token | None:
    """The signed-in user, or None (no cookie, a session that ended, or a token that no longer works)."""
    return session_user(services.store, session_token(request))


def signed_in(request: Request, services: Services) -> Token:
    """The signed-in user; otherwise a redirect to the sign-in page (303 with ``Location``)."""
    user = current_page_user(request, services)
    if user is None:
        raise HTTPException(status.HTTP_303_SEE_OTHER, "Please sign in", {"Location": "/signin"})
    return user


def staff_only(request: Request, services: Services) -> Token:
    """A signed-in TA; 403 for students and CI tokens (the same rule as the API's TA routes)."""
    user = signed_in(request, services)
    if user.role != Role.ta:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Only TAs may open this page")
    return user


def csrf_for(token: str) -> str:
    """The CSRF token of one session: an HMAC keyed by the session's secret token."""
    return hmac.new(token.encode(), b"grader-pages-csrf-v1", hashlib.sha256).hexdigest()


def same_origin(request: Request) -> bool:
    """Whether a state-changing request came from our own pages (Origin, else Referer, must match Host).

    Browsers send ``Origin`` on every POST; a request with neither header is not from a browser form on
    another site (that would carry one), so it is let through to the CSRF-token check.
    """
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return source is None
    return urlsplit(source).netloc == request.headers.get("host", "")


def check_csrf(request: Request, submitted: str | None) -> None:
    """403 unless the request is same-origin and carries this session's CSRF token."""
    token = session_token(request)
    if not same_origin(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Cross-site request refused")
    if not token or not submitted or not hmac.compare_digest(submitted, csrf_for(token)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Invalid or missing CSRF token; reload the page and try again")


def set_session(request: Request, response: Response, services: Services, token_digest: str) -> None:
    """Open a session for the holder of ``token_digest`` and name it in the cookie."""
    session_id = open_session(services.store, token_digest, SESSION_SECONDS)
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def clear_session(request: Request, response: Response, services: Services) -> None:
    """End the session on the server (its id stops working everywhere) and drop the cookie."""
    end_session(services.store, session_token(request))
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
