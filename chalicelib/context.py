"""Who is acting and under which request: stamped on every write for the audit stream."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.models.users import Role


@dataclass(frozen=True)
class Actor:
    """Who made a write (``None`` for the system) and under which request."""

    user_id: str | None
    correlation_id: str | None


@dataclass(frozen=True)
class Caller:
    """An authenticated request's caller: identity from the access token, plus the request id."""

    user_id: str
    tenant_id: str
    role: Role
    correlation_id: str | None = None

    @property
    def actor(self) -> Actor:
        return Actor(user_id=self.user_id, correlation_id=self.correlation_id)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin
