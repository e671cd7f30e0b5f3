"""Who a verified access token may act as *now*: the user's current role and status.

A token names its user; it does not carry rights that outlive a change. Each authenticated
request reads the user's current role, active flag and authorization version (one GetItem):

* the user (or its tenant, whose key prefixes the user's) no longer exists -> 401;
* the user is deactivated -> 401;
* the token's authorization version is older than the user's (all logins were ended since it
  was issued: deactivation, or an admin or a password change ending every session) -> 401;
* otherwise the request acts with the user's *current* role (a demoted admin is a student).

Writes and admin-only routes read the state strongly consistently on every request; other
reads may use a per-container copy at most ``access_cache_seconds`` old (the contract allows
60 seconds), so a warm container serves them without the extra read.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Protocol

from chalicelib.clock import Clock, utcnow
from chalicelib.config import get_settings
from chalicelib.context import Actor, Caller
from chalicelib.errors import Unauthorized
from chalicelib.models.users import Access

if TYPE_CHECKING:
    from chalicelib.auth.tokens import Principal


class AccessRepo(Protocol):
    """The users of one tenant, as far as access is concerned (``db.users.UserRepository``)."""

    def access(self, user_id: str, *, consistent: bool) -> Access | None: ...


class AccessDirectory(Protocol):
    """Every tenant's users (``db.store.DynamoStore``; a fake in unit tests)."""

    def users(self, tenant_id: str, actor: Actor) -> AccessRepo: ...


class AccessCache:
    """Users' access state as last read by this container, each copy for a bounded time."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: dict[tuple[str, str], tuple[Access, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str], now: float) -> Access | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None or found[1] <= now:
                return None
            return found[0]

    def put(self, key: tuple[str, str], access: Access, expires: float) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries and key not in self._entries:
                self._entries.pop(next(iter(self._entries)))  # the oldest insertion goes
            self._entries[key] = (access, expires)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


#: This container's cache (a Lambda container serves one request at a time; the local stack
#: serves several on threads, hence the lock).
ACCESS_CACHE = AccessCache()


def _revoked() -> Unauthorized:
    return Unauthorized("The token is no longer valid; log in again.")


class AccessService:
    """Turns a verified token into the caller it may act as now (or refuses it)."""

    def __init__(
        self,
        directory: AccessDirectory,
        *,
        cache: AccessCache = ACCESS_CACHE,
        clock: Clock = utcnow,
    ) -> None:
        self.directory = directory
        self.cache = cache
        self.clock = clock

    def caller(self, principal: Principal, *, correlation_id: str, fresh: bool) -> Caller:
        """The caller ``principal`` acts as; ``fresh`` reads the state strongly consistently."""
        access = self._access(principal, fresh=fresh)
        if access is None or not access.active:
            raise _revoked()
        if principal.auth_version < access.auth_version:
            raise _revoked()
        return Caller(
            user_id=principal.user_id,
            tenant_id=principal.tenant_id,
            role=access.role,
            correlation_id=correlation_id,
            session_id=principal.session_id,
        )

    def current(self, tenant_id: str, user_id: str) -> Access | None:
        """A user's current role and status as a read sees them (this container's copy, at
        most ``access_cache_seconds`` old): for what acts for a user without a token."""
        return self._read(tenant_id, user_id, fresh=False)

    def _access(self, principal: Principal, *, fresh: bool) -> Access | None:
        return self._read(principal.tenant_id, principal.user_id, fresh=fresh)

    def _read(self, tenant_id: str, user_id: str, *, fresh: bool) -> Access | None:
        key = (tenant_id, user_id)
        now = self.clock().timestamp()
        if not fresh:
            cached = self.cache.get(key, now)
            if cached is not None:
                return cached
        actor = Actor(user_id=user_id, correlation_id=None)
        access = self.directory.users(tenant_id, actor).access(user_id, consistent=fresh)
        ttl = get_settings().access_cache_seconds
        if access is not None and ttl > 0:
            self.cache.put(key, access, now + ttl)
        return access
