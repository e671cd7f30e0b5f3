"""Login (attempts counted before any password is checked), refresh-token rotation with reuse
detection, logout.

Login attempts are counted per account and client address in fixed windows of
``login_window_seconds`` (at most ``login_max_failures`` passwords are checked per window), and
per account in windows of ``login_account_window_seconds`` (at most
``login_account_max_failures`` failures from all addresses together). The count is made before
the password is checked, in one conditional write, so concurrent guesses cannot get past it. A
success starts the client's count again and takes the attempt off the account's count (it was
no failure); a deactivated account's right password stays counted, and answers exactly as a
wrong one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from chalicelib.auth import passwords, tokens
from chalicelib.clock import Clock, utcnow
from chalicelib.config import get_settings
from chalicelib.context import Actor
from chalicelib.errors import TooManyRequests, Unauthorized
from chalicelib.ids import new_id
from chalicelib.models.auth import Credential, Lockout, LoginWindow, Tokens
from chalicelib.models.tenants import Tenant
from chalicelib.models.users import Access, User
from chalicelib.observability import logger
from chalicelib.services.users import UserRepo

INVALID_CREDENTIALS = "invalid_credentials"


def _invalid() -> Unauthorized:
    return Unauthorized("The tenant, email or password is not right.", code=INVALID_CREDENTIALS)


def _refresh_rejected() -> Unauthorized:
    return Unauthorized("The refresh token is not valid.")


class AuthRepo(Protocol):
    """Login counters and refresh-token families of one tenant (``db.auth.AuthRepository``)."""

    def credential(self, email: str) -> Credential | None: ...
    def count_attempt(self, email: str, window: LoginWindow) -> Lockout | None: ...
    def settle_success(self, email: str, window: LoginWindow) -> None: ...
    def clear_locks(self, email: str) -> int: ...
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

    def issue(
        self, user_id: str, tenant_id: str, access: Access, *, now: datetime | None = None
    ) -> Tokens:
        """Start a new login (token family) for an authenticated user."""
        now = now or self.clock()
        settings = get_settings()
        family_id = new_id()
        version = access.auth_version
        refresh = tokens.issue_refresh(user_id, tenant_id, family_id, now, auth_version=version)
        self.accounts.auth(tenant_id, self._actor(user_id)).start_family(
            family_id,
            user_id,
            tokens.token_hash(refresh),
            now + timedelta(seconds=settings.refresh_token_ttl_seconds),
        )
        return Tokens(
            access_token=tokens.issue_access(
                user_id, tenant_id, access.role, now, auth_version=version
            ),
            refresh_token=refresh,
            expires_in=settings.access_token_ttl_seconds,
        )

    def login(self, slug: str, email: str, password: str, client: str = "unknown") -> Tokens:
        """Tokens for the right password of an active account; ``client`` is the caller's
        address (the throttle counts per account and address)."""
        now = self.clock()
        tenant_id = self.accounts.tenant_id_for_slug(slug)
        if tenant_id is None:
            passwords.burn_verification_time(password)
            raise _invalid()
        auth = self.accounts.auth(tenant_id, self._actor(None))
        window = login_window(client, now)
        lockout = auth.count_attempt(email, window)
        if lockout is not None:
            raise TooManyRequests(
                "Too many failed logins for this account; try again later.",
                retry_after=retry_after(lockout, window, now),
            )
        credential = auth.credential(email)
        if credential is None:
            passwords.burn_verification_time(password)
        if credential is None or not passwords.verify_password(credential.password_hash, password):
            logger.info("login failed", extra={"tenant_id": tenant_id})
            raise _invalid()
        access = self.accounts.users(tenant_id, self._actor(None)).access(
            credential.user_id, consistent=True
        )
        if access is None or not access.active:
            logger.info("login failed", extra={"tenant_id": tenant_id})
            raise _invalid()  # counted as a failure, like a wrong password
        auth.settle_success(email, window)
        return self.issue(credential.user_id, tenant_id, access, now=now)

    def lift_locks(self, tenant_id: str, email: str) -> int:
        """Lift every login lock on an account (a password reset does)."""
        return self.accounts.auth(tenant_id, self._actor(None)).clear_locks(email)

    def refresh(self, refresh_token: str) -> Tokens:
        claims = tokens.verify_refresh(refresh_token)
        settings = get_settings()
        now = self.clock()
        auth = self.accounts.auth(claims.tenant_id, self._actor(claims.user_id))
        access = self.accounts.users(claims.tenant_id, self._actor(claims.user_id)).access(
            claims.user_id, consistent=True
        )
        if access is None or not access.active or claims.auth_version < access.auth_version:
            auth.revoke(claims.family_id)
            raise _refresh_rejected()
        new_refresh = tokens.issue_refresh(
            claims.user_id,
            claims.tenant_id,
            claims.family_id,
            now,
            auth_version=access.auth_version,
        )
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
            access_token=tokens.issue_access(
                claims.user_id,
                claims.tenant_id,
                access.role,
                now,
                auth_version=access.auth_version,
            ),
            refresh_token=new_refresh,
            expires_in=settings.access_token_ttl_seconds,
        )

    def logout(self, refresh_token: str) -> None:
        claims = tokens.verify_refresh(refresh_token)
        self.accounts.auth(claims.tenant_id, self._actor(claims.user_id)).revoke(claims.family_id)


def login_window(client: str, now: datetime) -> LoginWindow:
    """The counters an attempt at ``now`` from ``client`` goes into."""
    settings = get_settings()
    ts = now.timestamp()
    account_seconds = settings.login_account_window_seconds
    account_window = int(ts // account_seconds)
    return LoginWindow(
        client=client,
        client_window=int(ts // settings.login_window_seconds),
        client_limit=settings.login_max_failures,
        account_window=account_window,
        account_limit=settings.login_account_max_failures,
        expires=datetime.fromtimestamp((account_window + 1) * account_seconds, UTC),
    )


def retry_after(lockout: Lockout, window: LoginWindow, now: datetime) -> int:
    """Seconds until the full counter's window ends."""
    settings = get_settings()
    if lockout.account:
        ends = (window.account_window + 1) * settings.login_account_window_seconds
    else:
        ends = (window.client_window + 1) * settings.login_window_seconds
    return int(ends - now.timestamp()) + 1
