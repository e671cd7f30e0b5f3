"""Time in one place, so tests and services agree on 'now' (always UTC)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

#: What services are given to ask the time (``utcnow`` in production, a fixed time in tests).
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix and millisecond precision (sortable as a string)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
