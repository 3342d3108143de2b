"""The error answers the API really gives, for the OpenAPI description (each route lists its own)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    """Every error body: ``{"detail": "..."}`` (FastAPI's own validation errors carry a list instead)."""

    detail: str | list[dict[str, Any]] = Field(description="What went wrong, written for the caller.")


_MEANING = {
    400: "The form could not be read (too many files or fields).",
    401: "Missing, unknown, revoked or expired token.",
    403: "The token's role may not do this, or the student is not on the roster.",
    404: "No such assignment or submission (a student asking for another student's gets this too).",
    409: "The assignment is closed, or no longer installed.",
    413: "The upload is larger than the server accepts.",
    422: "The upload is not a usable submission (not a zip, unsafe, or lacking the assignment's files), "
    "or a parameter is invalid.",
    428: "The act needs confirming: repeat it with `confirm=true` (the detail says what it would do).",
    429: "Too many uploads in the rate-limit window; `Retry-After` says when to try again.",
    503: "Redis did not answer; nothing was recorded. `Retry-After` says when to try again.",
    507: "The server's storage is full; the upload was not saved.",
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each code with its meaning and the error body."""
    return {
        code: {
            "model": ErrorDetail,
            "description": _MEANING[code],
            **({"headers": _RETRY_AFTER} if code in (429, 503) else {}),
        }
        for code in codes
    }


# Every route needs a token and reads Redis.
COMMON = responses(401, 503)
