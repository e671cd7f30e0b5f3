"""Domain errors. Services raise these; ``chalicelib.api.errors`` maps them to HTTP once."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a client may see. ``code`` is the contract's snake_case code."""

    code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or []


class BadRequest(DomainError):
    code = "bad_request"


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class NotFound(DomainError):
    code = "not_found"

    def __init__(self, what: str = "resource") -> None:
        super().__init__(f"The {what} does not exist.")


class Conflict(DomainError):
    code = "conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class InstructorUnavailable(Conflict):
    code = "instructor_unavailable"


class NoAvailability(Conflict):
    """No instructor who teaches the course is free at the asked time."""

    code = "no_availability"


class TooEarly(Conflict):
    """The action belongs to a session that has not started yet."""

    code = "too_early"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"


class ValidationFailed(DomainError):
    code = "validation_error"


class TooManyRequests(DomainError):
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class ServiceUnavailable(DomainError):
    """A service the request needs (the database) cannot be reached right now."""

    code = "service_unavailable"

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class InvalidToken(BadRequest):
    """A link token (invitation, password reset) that is unknown, used, voided or expired."""

    code = "invalid_token"

    def __init__(self) -> None:
        super().__init__("The link is invalid, expired or was already used; ask for a new one.")
