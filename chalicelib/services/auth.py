"""Login, refresh-token rotation with reuse detection, logout."""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.auth import passwords, tokens
from chalicelib.clock import utcnow
from chalicelib.config import get_settings
from chalicelib.context import Actor
from chalicelib.errors import TooManyRequests, Unauthorized
from chalicelib.ids import new_id
from chalicelib.models.auth import Tokens
from chalicelib.models.users import User
from chalicelib.observability import logger
from chalicelib.services.ports import Store

INVALID_CREDENTIALS = "invalid_credentials"


def _invalid() -> Unauthorized:
    return Unauthorized("The tenant, email or password is not right.", code=INVALID_CREDENTIALS)


def _refresh_rejected() -> Unauthorized:
    return Unauthorized("The refresh token is not valid.")


class AuthService:
    def __init__(self, store: Store, correlation_id: str | None = None) -> None:
        self.store = store
        self.correlation_id = correlation_id

    def _actor(self, user_id: str | None) -> Actor:
        return Actor(user_id=user_id, correlation_id=self.correlation_id)

    def issue(self, user: User, *, now: datetime | None = None) -> Tokens:
        """Start a new login (token family) for an authenticated user."""
        now = now or utcnow()
        settings = get_settings()
        family_id = new_id()
        refresh = tokens.issue_refresh(user.id, user.tenant_id, family_id, now)
        self.store.auth(user.tenant_id, self._actor(user.id)).start_family(
            family_id,
            user.id,
            tokens.token_hash(refresh),
            now + timedelta(seconds=settings.refresh_token_ttl_seconds),
        )
        return Tokens(
            access_token=tokens.issue_access(user.id, user.tenant_id, user.role.value, now),
            refresh_token=refresh,
            expires_in=settings.access_token_ttl_seconds,
        )

    def login(self, slug: str, email: str, password: str) -> Tokens:
        settings = get_settings()
        now = utcnow()
        tenant_id = self.store.tenant_id_for_slug(slug)
        if tenant_id is None:
            passwords.burn_verification_time(password)
            raise _invalid()
        auth = self.store.auth(tenant_id, self._actor(None))
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
        user = self.store.users(tenant_id, self._actor(None)).find(credential.user_id)
        if user is None or not user.active:
            raise _invalid()
        if throttle.failures:
            auth.clear_failures(email)
        return self.issue(user, now=now)

    def refresh(self, refresh_token: str) -> Tokens:
        claims = tokens.verify_refresh(refresh_token)
        settings = get_settings()
        now = utcnow()
        auth = self.store.auth(claims.tenant_id, self._actor(claims.user_id))
        user = self.store.users(claims.tenant_id, self._actor(claims.user_id)).find(claims.user_id)
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
            access_token=tokens.issue_access(user.id, user.tenant_id, user.role.value, now),
            refresh_token=new_refresh,
            expires_in=settings.access_token_ttl_seconds,
        )

    def logout(self, refresh_token: str) -> None:
        claims = tokens.verify_refresh(refresh_token)
        self.store.auth(claims.tenant_id, self._actor(claims.user_id)).revoke(claims.family_id)
