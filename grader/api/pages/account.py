"""Signing in and out (token form or per-student link) and the home page listing the assignments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from grader.api.deps import ServicesDep
from grader.api.pages.session import check_csrf, clear_session, current_page_user, same_origin, set_session, signed_in
from grader.api.pages.templating import render
from grader.api.routes.assignments import assignment_public
from grader.store.records import Role
from grader.store.tokens import resolve_token

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, services: ServicesDep) -> Response:
    """The assignments: students pick one to submit to, TAs open its overview."""
    user = signed_in(request, services)
    assignments = [assignment_public(m) for m in services.manifests.values()]
    rosters = (
        {a.id: services.store.on_roster(a.id, user.subject) for a in assignments} if user.role == Role.student else {}
    )
    return render(request, "home.html", user, assignments=assignments, rosters=rosters)


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, services: ServicesDep) -> Response:
    return render(request, "signin.html", current_page_user(request, services), error="")


@router.get("/signin/link", response_class=HTMLResponse)
def signin_link(request: Request, services: ServicesDep, token: str = "") -> Response:
    """A per-student link (``/signin/link?token=...``): confirm with one click, which POSTs the token.

    Signing in on a bare GET would let any site sign a visitor in as someone else (login CSRF: the victim
    would then upload their work into the attacker's account), so the link only fills in the form.
    """
    who = resolve_token(services.store, token)
    if who is None:
        return render(
            request, "signin.html", None, status.HTTP_401_UNAUTHORIZED, error="This sign-in link is not valid."
        )
    return render(request, "signin_link.html", None, who=who, token=token)


@router.post("/signin")
def signin(request: Request, services: ServicesDep, token: Annotated[str, Form()] = "") -> Response:
    """Check the token and keep it in an HttpOnly cookie; only from our own sign-in form."""
    if not same_origin(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Cross-site request refused")
    user = resolve_token(services.store, token.strip())
    if user is None:
        return render(request, "signin.html", None, status.HTTP_401_UNAUTHORIZED, error="That token is not valid.")
    response = RedirectResponse("/", status.HTTP_303_SEE_OTHER)
    set_session(request, response, token.strip())
    return response


@router.post("/signout")
def signout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    response = RedirectResponse("/signin", status.HTTP_303_SEE_OTHER)
    clear_session(response)
    return response
