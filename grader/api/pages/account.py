"""Signing in and out (token form or one-time sign-in link) and the home page listing the assignments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from grader.api.deps import Services, ServicesDep
from grader.api.pages.session import check_csrf, clear_session, current_page_user, same_origin, set_session, signed_in
from grader.api.pages.templating import render
from grader.api.routes.assignments import assignment_public, visible_manifests
from grader.store.records import Role
from grader.store.sessions import redeem_link
from grader.store.tokens import digest, resolve_token

router = APIRouter(tags=["pages"], include_in_schema=False)

_BAD_LINK = (
    "This sign-in link is not valid: it was already used, has expired, or its account was revoked. "
    "Sign in with your token, or ask your course staff for a new link."
)
_OLD_LINK = (
    "Sign-in links no longer carry your token in the address. Sign in with your token, or ask your "
    "course staff for a new link."
)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, services: ServicesDep) -> Response:
    """The assignments the user may see: students pick one to submit to (only those they are on), TAs open its overview."""
    user = signed_in(request, services)
    assignments = [assignment_public(m) for m in visible_manifests(services, user)]
    rosters = {a.id: True for a in assignments} if user.role == Role.student else {}
    return render(request, "home.html", user, assignments=assignments, rosters=rosters)


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, services: ServicesDep) -> Response:
    return render(request, "signin.html", current_page_user(request, services), error="")


@router.get("/signin/link", response_class=HTMLResponse)
def signin_link(request: Request, token: str = "") -> Response:
    """A sign-in link (``/signin/link#link_...``): the secret is in the fragment, which browsers never send,
    so it reaches no access log; the page's script moves it into a form that one click POSTs.

    Signing in on a bare GET would let any site sign a visitor in as someone else (login CSRF: the victim
    would then upload their work into the attacker's account), hence the click. An old-style link with the
    API token in its query is refused (the access log redacts the token).
    """
    if token:
        return render(request, "signin.html", None, status.HTTP_400_BAD_REQUEST, error=_OLD_LINK)
    return render(request, "signin_link.html", None, error="")


@router.post("/signin/link")
def signin_with_link(request: Request, services: ServicesDep, link: Annotated[str, Form()] = "") -> Response:
    """Exchange a one-time sign-in link for a session (the link stops working), then go home."""
    if not same_origin(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Cross-site request refused")
    token_digest = redeem_link(services.store, link.strip())
    if token_digest is None:
        return render(request, "signin.html", None, status.HTTP_401_UNAUTHORIZED, error=_BAD_LINK)
    return _signed_in(request, services, token_digest)


@router.post("/signin")
def signin(request: Request, services: ServicesDep, token: Annotated[str, Form()] = "") -> Response:
    """Check the token and open a session for it; only from our own sign-in form."""
    if not same_origin(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Cross-site request refused")
    if resolve_token(services.store, token.strip()) is None:
        return render(request, "signin.html", None, status.HTTP_401_UNAUTHORIZED, error="That token is not valid.")
    return _signed_in(request, services, digest(token.strip()))


def _signed_in(request: Request, services: Services, token_digest: str) -> Response:
    response = RedirectResponse("/", status.HTTP_303_SEE_OTHER)
    set_session(request, response, services, token_digest)
    return response


@router.post("/signout")
def signout(request: Request, services: ServicesDep, csrf: Annotated[str, Form()] = "") -> Response:
    """End the session on the server (the cookie's id no longer signs anyone in) and drop the cookie."""
    check_csrf(request, csrf)
    response = RedirectResponse("/signin", status.HTTP_303_SEE_OTHER)
    clear_session(request, response, services)
    return response
