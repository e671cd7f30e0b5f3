"""Who is acting and under which request: stamped on every write for the audit stream."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    user_id: str | None
    correlation_id: str | None


SYSTEM = Actor(user_id=None, correlation_id=None)


@dataclass(frozen=True)
class Caller:
    """An authenticated request's caller: identity from the access token, plus the request id."""

    user_id: str
    tenant_id: str
    role: str
    correlation_id: str | None = None

    @property
    def actor(self) -> Actor:
        return Actor(user_id=self.user_id, correlation_id=self.correlation_id)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"
