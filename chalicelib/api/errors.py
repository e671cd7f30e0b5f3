"""The one place that maps domain errors to HTTP answers in the contract's envelope."""

from __future__ import annotations

import json
from typing import Any

from chalice import Response

from chalicelib import errors
from chalicelib.db.faults import is_unavailable
from chalicelib.observability import logger

STATUS: dict[type[errors.DomainError], int] = {
    errors.BadRequest: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PayloadTooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.ValidationFailed: 422,
    errors.TooManyRequests: 429,
    errors.ServiceUnavailable: 503,
}

#: Every status a route may answer with an error, with the codes it may carry (for OpenAPI).
ERROR_CODES: dict[int, list[str]] = {
    400: ["bad_request"],
    401: ["unauthorized", "invalid_credentials"],
    403: ["forbidden"],
    404: ["not_found"],
    409: [
        "conflict",
        "invalid_transition",
        "instructor_unavailable",
        "no_availability",
        "too_early",
    ],
    413: ["payload_too_large"],
    415: ["unsupported_media_type"],
    422: ["validation_error"],
    429: ["too_many_requests"],
    500: ["internal_error"],
    503: ["service_unavailable"],
}


def status_of(exc: errors.DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def envelope(code: str, message: str, details: list[dict[str, Any]] | None = None) -> str:
    return json.dumps({"error": {"code": code, "message": message, "details": details or []}})


def error_response(exc: errors.DomainError) -> Response:
    status = status_of(exc)
    headers: dict[str, str | list[str]] = {"Content-Type": "application/json"}
    if isinstance(exc, errors.TooManyRequests | errors.ServiceUnavailable):
        headers["Retry-After"] = str(exc.retry_after)
    if status == 500:
        return internal_error_response()
    return Response(
        body=envelope(exc.code, exc.message, exc.details), status_code=status, headers=headers
    )


def fault_response(exc: Exception) -> Response:
    """An exception no rule raised: 503 when the database cannot be reached (a fault of the
    moment, logged without a stack trace), else 500 (a bug, logged with one)."""
    if is_unavailable(exc):
        logger.warning("the database is unavailable", extra={"error": type(exc).__name__})
        return error_response(
            errors.ServiceUnavailable("The service is unavailable right now; try again shortly.")
        )
    logger.exception("unhandled error")
    return internal_error_response()


def internal_error_response() -> Response:
    return Response(
        body=envelope("internal_error", "Something went wrong on our side."),
        status_code=500,
        headers={"Content-Type": "application/json"},
    )


def validation_details(pydantic_errors: list[Any]) -> list[dict[str, Any]]:
    """Each field with its problem; never the rejected input itself (it may be a password)."""
    out = []
    for err in pydantic_errors:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
        out.append(
            {"field": loc or None, "problem": err.get("msg", "invalid"), "type": err["type"]}
        )
    return out
