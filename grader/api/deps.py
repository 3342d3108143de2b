"""Dependencies (A2): settings, store, queue, manifests and the caller, as annotated aliases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from celery import Celery
from fastapi import Depends, Form, HTTPException, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from grader.config import Settings
from grader.models.manifest import SuiteManifest
from grader.store.blobs import BlobStore
from grader.store.records import Role, Token
from grader.store.submissions import Store
from grader.store.tokens import resolve_token


@dataclass
class Services:
    """What the app holds for its lifetime (built by ``create_app``)."""

    settings: Settings
    store: Store
    queue: Celery
    manifests: dict[str, SuiteManifest]
    blobs: BlobStore


# Dependencies that only look things up in memory are ``async def``: FastAPI runs a plain ``def``
# dependency in its thread pool, which such a lookup does not need.


async def get_services(request: Request) -> Services:
    """The app's services (``create_app`` keeps them on the app's state)."""
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_store(services: ServicesDep) -> Store:
    return services.store


StoreDep = Annotated[Store, Depends(get_store)]


def _authenticated(user: Token | None) -> Token:
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Missing or invalid token", {"WWW-Authenticate": "Bearer"})
    return user


# Declares the HTTP bearer scheme in the OpenAPI description; missing credentials are ours to refuse (401
# with our message), so it does not raise by itself.
bearer = HTTPBearer(auto_error=False, description="A token from `grader token create` or `grader roster import`.")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def current_user(
    services: ServicesDep,
    credentials: BearerDep,
    token: Annotated[
        str | None, Query(description="Token in the URL (kept out of the access log); prefer the header.")
    ] = None,
) -> Token:
    """The caller, from ``Authorization: Bearer <token>`` (or ``?token=``); 401 otherwise (unknown, revoked, expired)."""
    presented = credentials.credentials.strip() if credentials is not None else (token or "")
    return _authenticated(resolve_token(services.store, presented))


CurrentUser = Annotated[Token, Depends(current_user)]


def upload_user(
    services: ServicesDep,
    credentials: BearerDep,
    token: Annotated[str | None, Form(description="Token, for HTML forms that cannot set headers.")] = None,
) -> Token:
    """``current_user`` for the upload form: ``Authorization: Bearer <token>``, else the form's ``token`` field."""
    presented = credentials.credentials.strip() if credentials is not None else (token or "")
    return _authenticated(resolve_token(services.store, presented))


UploadUser = Annotated[Token, Depends(upload_user)]


async def require_staff(user: CurrentUser) -> Token:
    if user.role != Role.ta:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Only TAs may do this")
    return user


StaffUser = Annotated[Token, Depends(require_staff)]


def find_manifest(assignment_id: str, services: Services) -> SuiteManifest:
    """The installed assignment's manifest; 404 if there is none."""
    manifest = services.manifests.get(assignment_id)
    if manifest is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Unknown assignment '{assignment_id}'")
    return manifest


async def get_manifest(assignment_id: str, services: ServicesDep) -> SuiteManifest:
    return find_manifest(assignment_id, services)


ManifestDep = Annotated[SuiteManifest, Depends(get_manifest)]


def now() -> datetime:
    return datetime.now(UTC)
