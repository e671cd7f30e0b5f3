"""Login, refresh-token rotation with reuse detection, logout."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from chalicelib.auth import passwords, tokens
from chalicelib.clock import Clock, utcnow
from chalicelib.config import get_settings
from chalicelib.context import Actor
from chalicelib.errors import TooManyRequests, Unauthorized
from chalicelib.ids import new_id
from chalicelib.models.auth import Credential, Throttle, Tokens
from chalicelib.models.tenants import Tenant
from chalicelib.models.users import User
from chalicelib.observability import logger
from chalicelib.services.users import UserRepo

INVALID_CREDENTIALS = "invalid_credentials"


def _invalid() -> Unauthorized:
    return Unauthorized("The tenant, email or password is not right.", code=INVALID_CREDENTIALS)


def _refresh_rejected() -> Unauthorized:
    return Unauthorized("The refresh token is not valid.")


class AuthRepo(Protocol):
    """Login throttles and refresh-token families of one tenant (``db.auth.AuthRepository``)."""

    def login_state(self, email: str) -> tuple[Credential | None, Throttle]: ...
    def record_failure(self, email: str, *, now: datetime, window: timedelta) -> Throttle: ...
    def clear_failures(self, email: str) -> None: ...
    def start_family(
        self, family_id: str, user_id: str, token_hash: str, expires: datetime
    ) -> None: ...
    def rotate(
        self, family_id: str, presented_hash: str, new_hash: str, expires: datetime
    ) -> bool: ...
    def revoke(self, family_id: str) -> None: ...


class Accounts(Protocol):
    """Every tenant's accounts, for the routes that run before anyone is logged in
    (``db.store.DynamoStore``; a fake in unit tests)."""

    def tenant_id_for_slug(self, slug: str) -> str | None: ...
    def create_tenant_with_admin(
        self, tenant: Tenant, admin: User, password_hash: str, actor: Actor
    ) -> None: ...
    def users(self, tenant_id: str, actor: Actor) -> UserRepo: ...
    def auth(self, tenant_id: str, actor: Actor) -> AuthRepo: ...


class AuthService:
    """Login, refresh and logout: anonymous routes, so it is given every tenant's accounts."""

    def __init__(
        self, accounts: Accounts, *, correlation_id: str | None, clock: Clock = utcnow
    ) -> None:
        self.accounts = accounts
        self.correlation_id = correlation_id
        self.clock = clock

    def _actor(self, user_id: str | None) -> Actor:
        return Actor(user_id=user_id, correlation_id=self.correlation_id)

    def issue(self, user: User, *, now: datetime | None = None) -> Tokens:
        """Start a new login (token family) for an authenticated user."""
        now = now or self.clock()
        settings = get_settings()
        family_id = new_id()
        refresh = tokens.issue_refresh(user.id, user.tenant_id, family_id, now)
        self.accounts.auth(user.tenant_id, self._actor(user.id)).start_family(
            family_id,
            user.id,
            tokens.token_hash(refresh),
            now + timedelta(seconds=settings.refresh_token_ttl_seconds),
        )
        return Tokens(
            access_token=tokens.issue_access(user.id, user.tenant_id, user.role, now),
            refresh_token=refresh,
            expires_in=settings.access_token_ttl_seconds,
        )

    def login(self, slug: str, email: str, password: str) -> Tokens:
        settings = get_settings()
        now = self.clock()
        tenant_id = self.accounts.tenant_id_for_slug(slug)
        if tenant_id is None:
            passwords.burn_verification_time(password)
            raise _invalid()
        auth = self.accounts.auth(tenant_id, self._actor(None))
        window = timedelta(seconds=settings.login_window_seconds)
        credential, throttle = auth.login_state(email)
        window_ends = throttle.window_started + window.total_seconds()
        if throttle.failures >= settings.login_max_failures and window_ends > now.timestamp():
            raise TooManyRequests(
                "Too many failed logins for this account; try again later.",
                retry_after=int(window_ends - now.timestamp()) + 1,
            )
        if credential is None:
            passwords.burn_verification_time(password)
        if credential is None or not passwords.verify_password(credential.password_hash, password):
            auth.record_failure(email, now=now, window=window)
            logger.info("login failed", extra={"tenant_id": tenant_id})
            raise _invalid()
        user = self.accounts.users(tenant_id, self._actor(None)).find(credential.user_id)
        if user is None or not user.active:
            raise _invalid()
        if throttle.failures:
            auth.clear_failures(email)
        return self.issue(user, now=now)

    def refresh(self, refresh_token: str) -> Tokens:
        claims = tokens.verify_refresh(refresh_token)
        settings = get_settings()
        now = self.clock()
        auth = self.accounts.auth(claims.tenant_id, self._actor(claims.user_id))
        user = self.accounts.users(claims.tenant_id, self._actor(claims.user_id)).find(
            claims.user_id
        )
        if user is None or not user.active:
            auth.revoke(claims.family_id)
            raise _refresh_rejected()
        new_refresh = tokens.issue_refresh(user.id, user.tenant_id, claims.family_id, now)
        rotated = auth.rotate(
            claims.family_id,
            claims.token_hash,
            tokens.token_hash(new_refresh),
            now + timedelta(seconds=settings.refresh_token_ttl_seconds),
        )
        if not rotated:
            # A spent (or revoked) token came back: someone holds a copy. End the whole login.
            auth.revoke(claims.family_id)
            logger.warning(
                "refresh token reuse; family revoked",
                extra={"tenant_id": claims.tenant_id, "family_id": claims.family_id},
            )
            raise _refresh_rejected()
        return Tokens(
            access_token=tokens.issue_access(user.id, user.tenant_id, user.role, now),
            refresh_token=new_refresh,
            expires_in=settings.access_token_ttl_seconds,
        )

    def logout(self, refresh_token: str) -> None:
        claims = tokens.verify_refresh(refresh_token)
        self.accounts.auth(claims.tenant_id, self._actor(claims.user_id)).revoke(claims.family_id)
