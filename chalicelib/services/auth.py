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

Refresh: a login (token family) has one live refresh token. A spent one presented again within
``refresh_grace_seconds`` of its rotation gets the same successor again (two tabs, or an
interceptor firing twice, stay logged in); later, it revokes the login. A login ends
``session_lifetime_seconds`` after it began however often it is refreshed, and its tokens
carry the authorization version the login was last moved to (a password change moves the
changing login along; every other login of the user falls behind and ends).
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
from chalicelib.models.auth import Credential, Family, Lockout, LoginWindow, Tokens
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
        self,
        family_id: str,
        user_id: str,
        token_hash: str,
        expires: datetime,
        *,
        auth_version: int = 0,
        user_agent: str | None = None,
    ) -> None: ...
    def family(self, family_id: str) -> Family | None: ...
    def rotate(
        self,
        family_id: str,
        presented_hash: str,
        new_hash: str,
        *,
        now: datetime,
        auth_version: int,
    ) -> bool: ...
    def revoke(self, family_id: str, *, user_id: str | None = None) -> bool: ...
    def sessions(
        self, user_id: str, *, limit: int, cursor: str | None
    ) -> tuple[list[Family], str | None]: ...
    def end_all(self, user_id: str, *, keep: str | None = None) -> int: ...


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
        self,
        user_id: str,
        tenant_id: str,
        access: Access,
        *,
        now: datetime | None = None,
        user_agent: str | None = None,
    ) -> Tokens:
        """Start a new login (token family) for an authenticated user: ONE PutItem. The login
        ends ``session_lifetime_seconds`` later however often it is refreshed."""
        now = now or self.clock()
        settings = get_settings()
        family_id = new_id()
        version = access.auth_version
        ends = now + timedelta(seconds=settings.session_lifetime_seconds)
        refresh = tokens.issue_refresh(
            user_id, tenant_id, family_id, now, auth_version=version, not_after=ends
        )
        self.accounts.auth(tenant_id, self._actor(user_id)).start_family(
            family_id,
            user_id,
            tokens.token_hash(refresh),
            ends,
            auth_version=version,
            user_agent=(user_agent or "")[:256] or None,
        )
        return self._tokens(user_id, tenant_id, access, family_id, refresh, now)

    def _tokens(
        self,
        user_id: str,
        tenant_id: str,
        access: Access,
        family_id: str,
        refresh: str,
        now: datetime,
    ) -> Tokens:
        return Tokens(
            access_token=tokens.issue_access(
                user_id,
                tenant_id,
                access.role,
                now,
                auth_version=access.auth_version,
                session_id=family_id,
            ),
            refresh_token=refresh,
            expires_in=get_settings().access_token_ttl_seconds,
        )

    def login(
        self,
        slug: str,
        email: str,
        password: str,
        client: str = "unknown",
        user_agent: str | None = None,
    ) -> Tokens:
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
        if credential is None or not passwords.is_usable(credential.password_hash):
            passwords.burn_verification_time(password)  # unknown, or invited and not accepted
            credential = None
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
        return self.issue(credential.user_id, tenant_id, access, now=now, user_agent=user_agent)

    def lift_locks(self, tenant_id: str, email: str) -> int:
        """Lift every login lock on an account (a password reset does)."""
        return self.accounts.auth(tenant_id, self._actor(None)).clear_locks(email)

    def refresh(self, refresh_token: str) -> Tokens:
        """A new refresh token for the live one (and a fresh access token). The user's access
        (ONE GetItem) and the login (ONE GetItem), then ONE conditional UpdateItem; a request
        that loses the race to a concurrent rotation of the same token reads the login again
        and, within the grace period, answers the winner's successor."""
        claims = tokens.verify_refresh(refresh_token)
        now = self.clock()
        auth = self.accounts.auth(claims.tenant_id, self._actor(claims.user_id))
        access = self.accounts.users(claims.tenant_id, self._actor(claims.user_id)).access(
            claims.user_id, consistent=True
        )
        family = auth.family(claims.family_id)
        if family is None or family.revoked or family.user_id != claims.user_id:
            raise _refresh_rejected()
        version = family.auth_version if family.auth_version is not None else claims.auth_version
        if access is None or not access.active or version < access.auth_version:
            auth.revoke(claims.family_id)
            raise _refresh_rejected()
        if family.ends_at <= now:
            raise _refresh_rejected()  # the login is over, however often it was refreshed
        if family.token_hash == claims.token_hash:
            now = self.clock()  # the rotation's time: what the grace is counted from
            successor = self._successor(claims, family, access.auth_version, now)
            if auth.rotate(
                claims.family_id,
                claims.token_hash,
                tokens.token_hash(successor),
                now=now,
                auth_version=access.auth_version,
            ):
                return self._tokens(
                    claims.user_id, claims.tenant_id, access, claims.family_id, successor, now
                )
            family = auth.family(claims.family_id)  # a concurrent refresh won: look again
            if family is None or family.revoked:
                raise _refresh_rejected()
        again = self._within_grace(claims, family, now)
        if again is not None:
            return self._tokens(
                claims.user_id, claims.tenant_id, access, claims.family_id, again, now
            )
        # A spent (or revoked) token came back: someone holds a copy. End the whole login.
        auth.revoke(claims.family_id)
        logger.warning(
            "refresh token reuse; family revoked",
            extra={"tenant_id": claims.tenant_id, "family_id": claims.family_id},
        )
        raise _refresh_rejected()

    @staticmethod
    def _successor(
        claims: tokens.RefreshClaims, family: Family, auth_version: int, at: datetime
    ) -> str:
        """The refresh token that replaces the presented one when rotated at ``at`` (the same
        inputs always give the same token)."""
        return tokens.issue_refresh(
            claims.user_id,
            claims.tenant_id,
            claims.family_id,
            at,
            auth_version=auth_version,
            not_after=family.ends_at,
            replaces=claims.token_hash,
        )

    def _within_grace(
        self, claims: tokens.RefreshClaims, family: Family, now: datetime
    ) -> str | None:
        """The successor of a token spent at most ``refresh_grace_seconds`` ago, made again;
        None when the token is not the one the last rotation spent, or the grace is over."""
        if family.previous_hash != claims.token_hash or family.rotated_at is None:
            return None
        if now.timestamp() - family.rotated_at > get_settings().refresh_grace_seconds:
            return None
        rotated = datetime.fromtimestamp(family.rotated_at, UTC)
        successor = self._successor(claims, family, family.auth_version or 0, rotated)
        if tokens.token_hash(successor) != family.token_hash:
            return None  # not ours to make again (the signing secret changed meanwhile)
        return successor

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
