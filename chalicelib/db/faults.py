"""Which failures mean "the database cannot be reached right now" rather than a bug.

Connection refused, connection reset, connect and read timeouts (botocore's connection and HTTP
client errors) and DynamoDB's throttling and internal errors, once the client's own retries
are spent, are outages: the edge answers them 503 ``service_unavailable`` at once instead of a
500. PynamoDB and Powertools wrap botocore's errors; the whole chain is searched.
"""

from __future__ import annotations

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

#: DynamoDB error codes that mean "try again later", not "your request is wrong".
UNAVAILABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


def _code(exc: BaseException) -> str | None:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) or None
    code = getattr(exc, "cause_response_code", None)  # PynamoDB's wrappers
    return str(code) if code else None


def _linked(exc: BaseException) -> list[BaseException]:
    linked = [exc.__cause__, exc.__context__, getattr(exc, "cause", None), *exc.args]
    return [e for e in linked if isinstance(e, BaseException)]


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` (or anything it wraps) says the database could not be reached."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, BotoConnectionError | HTTPClientError):
            return True
        if _code(current) in UNAVAILABLE_CODES:
            return True
        pending.extend(_linked(current))
    return False
