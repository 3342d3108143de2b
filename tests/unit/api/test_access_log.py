"""Tokens in a request's query never reach uvicorn's access log."""

from __future__ import annotations

import logging

from grader.api.docs import RedactTokens, redact


def test_secret_fields_are_redacted_and_the_rest_kept() -> None:
    assert redact("/api/v1/assignments?token=student_abc&limit=5") == "/api/v1/assignments?token=[redacted]&limit=5"
    assert redact("/signin/link?TOKEN=x") == "/signin/link?TOKEN=[redacted]"
    assert redact("/x?a=1&link=link_s3cret;csrf=ab") == "/x?a=1&link=[redacted];csrf=[redacted]"
    assert redact("/x?notatoken=1") == "/x?notatoken=1"


def test_the_filter_rewrites_uvicorns_record_arguments() -> None:
    # uvicorn's access record: '%s - "%s %s HTTP/%s" %d' with (client, method, path, version, status).
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/api/v1/assignments?token=ta_secret", "1.1", 200),
        None,
    )
    assert RedactTokens().filter(record)
    assert "ta_secret" not in record.getMessage() and "token=[redacted]" in record.getMessage()
