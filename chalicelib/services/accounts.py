"""Account lifecycle: invitations, forgotten and changed passwords, and a user's logins.

Links in emails carry a token (``auth.links``): random, stored only as its hash, single use,
valid for ``invitation_ttl_seconds`` / ``password_reset_ttl_seconds``, and voided by a newer
link of the same purpose. The token never appears in an answer, an error, a log line or an
audit entry; the email sender derives it again from the link's stored seed.

* Invitation: an admin creates a user without a password; the user accepts with the link's
  token and a password of their own, and is logged in. Until then they cannot log in.
* Forgotten password: the same 202 whether or not the account exists, after the same reads
  and writes (a reset email is counted for any address: at most ``reset_emails_per_hour`` per
  account and hour); an active account gets a link. A reset sets the password, ends every
  login of the user and lifts every login lock of the account, then logs the user in.
* Change password: the current password is checked like a login (counted first; a wrong one
  is a failed login, answered 403); every other login ends at once, the caller's own login
  carries on (its access token must be refreshed once: every older access token of the user
  stops working).
* Sessions: a user lists and ends their own logins; an admin ends all of a user's logins, and
  their access tokens stop working at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from chalicelib.auth import links, passwords
from chalicelib.clock import Clock, utcnow
from chalicelib.config import get_settings
from chalicelib.context import Actor, Caller
from chalicelib.errors import Conflict, Forbidden, InvalidToken, NotFound, TooManyRequests
from chalicelib.ids import new_id
from chalicelib.models.auth import Link, Session, Tokens
from chalicelib.models.common import Page
from chalicelib.models.tenants import Tenant
from chalicelib.models.users import Access, CreateUserIn, User
from chalicelib.observability import logger
from chalicelib.services.auth import Accounts, AuthService, login_window, retry_after
from chalicelib.services.users import UserService

INVITE = "invite"
RESET = "reset"


class AccountRepo(Protocol):
    """Links and the changes they allow, for one tenant (``db.accounts.AccountRepository``)."""

    def invite(
        self, user: User, link_hash: str, seed: str, slug: str, expires: datetime
    ) -> User: ...
    def resend_invitation(
        self, user_id: str, link_hash: str, seed: str, slug: str, expires: datetime
    ) -> None: ...
    def reset_link(
        self, user_id: str, link_hash: str, seed: str, slug: str, expires: datetime
    ) -> None: ...
    def current_link_hash(self, user_id: str, purpose: str) -> str | None: ...
    def decoy_reset_link(self, user_id: str) -> None: ...
    def link(self, link_hash: str) -> Link | None: ...
    def use_link(
        self, link_hash: str, link: Link, password_hash: str, now: datetime
    ) -> tuple[User, Access]: ...
    def change_password(
        self, user_id: str, password_hash: str, now: datetime, *, keep_login: str | None = None
    ) -> int: ...
    def count_reset_email(self, email: str, now: datetime, limit: int) -> bool: ...


class TenantReader(Protocol):
    def get(self) -> Tenant: ...


class AccountStore(Accounts, Protocol):
    """Every tenant's accounts and links (``db.store.DynamoStore``)."""

    def accounts(self, tenant_id: str, actor: Actor) -> AccountRepo: ...
    def tenants(self, tenant_id: str, actor: Actor) -> TenantReader: ...


#: Stands in for the tenant and user of a request that names none, so that an unknown account
#: costs the same reads as a known one.
_NOBODY = "none"


class AccountService:
    def __init__(
        self, store: AccountStore, *, correlation_id: str | None, clock: Clock = utcnow
    ) -> None:
        self.store = store
        self.correlation_id = correlation_id
        self.clock = clock
        self.auth = AuthService(store, correlation_id=correlation_id, clock=clock)

    def _actor(self, user_id: str | None) -> Actor:
        return Actor(user_id=user_id, correlation_id=self.correlation_id)

    def _users(self, caller: Caller) -> UserService:
        repo = self.store.users(caller.tenant_id, caller.actor)
        return UserService(caller, repo, clock=self.clock)

    @staticmethod
    def _new_link(tenant_id: str) -> tuple[str, str]:
        """A fresh link's seed and the hash of its token (the token itself is not kept)."""
        seed = links.new_link_id()
        return seed, links.link_hash(links.link_token(tenant_id, seed))

    # -- invitations ------------------------------------------------------------------------
    def create_user(self, caller: Caller, body: CreateUserIn) -> User:
        """``POST /users``: with a password the user is created (and welcomed); without one
        they are invited by email."""
        users = UserService(
            caller, self.store.users(caller.tenant_id, caller.actor), clock=self.clock
        )
        if body.password is not None:
            return users.create(body)
        if not caller.is_admin:
            raise Forbidden("Only an admin may do this.")
        now = self.clock()
        user = User(
            id=new_id(),
            tenant_id=caller.tenant_id,
            email=body.email,
            name=body.name,
            role=body.role,
            active=True,
            created_at=now,
            invitation_pending=True,
        )
        slug = self.store.tenants(caller.tenant_id, caller.actor).get().slug
        seed, link_hash = self._new_link(caller.tenant_id)
        expires = now + timedelta(seconds=get_settings().invitation_ttl_seconds)
        return self.store.accounts(caller.tenant_id, caller.actor).invite(
            user, link_hash, seed, slug, expires
        )

    def resend_invitation(self, caller: Caller, user_id: str) -> None:
        """A new invitation (admin); the previous link stops working."""
        if not caller.is_admin:
            raise Forbidden("Only an admin may do this.")
        now = self.clock()
        slug = self.store.tenants(caller.tenant_id, caller.actor).get().slug
        seed, link_hash = self._new_link(caller.tenant_id)
        expires = now + timedelta(seconds=get_settings().invitation_ttl_seconds)
        self.store.accounts(caller.tenant_id, caller.actor).resend_invitation(
            user_id, link_hash, seed, slug, expires
        )

    def accept_invitation(
        self, slug: str, token: str, password: str, user_agent: str | None = None
    ) -> Tokens:
        """Set the invited user's password and log them in (their first login)."""
        return self._use_link(slug, token, password, INVITE, user_agent)

    # -- forgotten password ------------------------------------------------------------------
    def forgot_password(self, slug: str, email: str) -> None:
        """Email an active account a reset link (at most ``reset_emails_per_hour`` per hour).
        Answers nothing either way; an unknown tenant or email costs the same reads."""
        now = self.clock()
        settings = get_settings()
        tenant_id = self.store.tenant_id_for_slug(slug)
        actor = self._actor(None)
        accounts = self.store.accounts(tenant_id or _NOBODY, actor)
        credential = self.store.auth(tenant_id or _NOBODY, actor).credential(email)
        allowed = accounts.count_reset_email(email, now, settings.reset_emails_per_hour)
        user_id = credential.user_id if credential is not None else _NOBODY
        access = self.store.users(tenant_id or _NOBODY, actor).access(user_id, consistent=True)
        if (
            tenant_id is None
            or credential is None
            or access is None
            or not access.active
            or not passwords.is_usable(credential.password_hash)  # invited: use the invitation
        ):
            accounts.decoy_reset_link(_NOBODY)  # the requests a known account makes
            return
        if not allowed:
            logger.info(
                "password reset emails used up for the hour", extra={"tenant_id": tenant_id}
            )
            accounts.decoy_reset_link(_NOBODY)
            return
        seed, link_hash = self._new_link(tenant_id)
        expires = now + timedelta(seconds=settings.password_reset_ttl_seconds)
        try:
            accounts.reset_link(credential.user_id, link_hash, seed, slug, expires)
        except Conflict:  # a concurrent request made the link (and its email): same answer
            logger.info("concurrent reset request", extra={"tenant_id": tenant_id})

    def reset_password(
        self, slug: str, token: str, password: str, user_agent: str | None = None
    ) -> Tokens:
        """Set a new password with a reset link: every login of the user ends, every login lock
        on the account is lifted, and the user is logged in anew."""
        return self._use_link(slug, token, password, RESET, user_agent)

    def _use_link(
        self, slug: str, token: str, password: str, purpose: str, user_agent: str | None
    ) -> Tokens:
        now = self.clock()
        tenant_id = self.store.tenant_id_for_slug(slug)
        if tenant_id is None or len(token) > links.MAX_LINK_TOKEN_CHARS:
            raise InvalidToken()
        accounts = self.store.accounts(tenant_id, self._actor(None))
        link_hash = links.link_hash(token)
        link = accounts.link(link_hash)
        if link is None or link.purpose != purpose or link.expires <= now:
            raise InvalidToken()
        accounts = self.store.accounts(tenant_id, self._actor(link.user_id))
        user, access = accounts.use_link(link_hash, link, passwords.hash_password(password), now)
        auth = self.store.auth(tenant_id, self._actor(user.id))
        if purpose == RESET:
            auth.end_all(user.id)
            auth.clear_locks(user.email)
        if not access.active:
            raise InvalidToken()  # deactivated meanwhile: the password is set, no login
        return self.auth.issue(user.id, tenant_id, access, now=now, user_agent=user_agent)

    # -- change password ---------------------------------------------------------------------
    def change_password(
        self, caller: Caller, current_password: str, new_password: str, client: str = "unknown"
    ) -> None:
        now = self.clock()
        user = self.store.users(caller.tenant_id, caller.actor).get(caller.user_id, consistent=True)
        auth = self.store.auth(caller.tenant_id, caller.actor)
        window = login_window(client, now)
        lockout = auth.count_attempt(user.email, window)
        if lockout is not None:
            raise TooManyRequests(
                "Too many failed password checks for this account; try again later.",
                retry_after=retry_after(lockout, window, now),
            )
        credential = auth.credential(user.email)
        if credential is None or not passwords.verify_password(
            credential.password_hash, current_password
        ):
            logger.info("password change refused", extra={"tenant_id": caller.tenant_id})
            raise Forbidden("The current password is not right.")
        auth.settle_success(user.email, window)
        self.store.accounts(caller.tenant_id, caller.actor).change_password(
            caller.user_id,
            passwords.hash_password(new_password),
            now,
            keep_login=caller.session_id,
        )
        auth.end_all(caller.user_id, keep=caller.session_id)

    # -- sessions ------------------------------------------------------------------------------
    def sessions(self, caller: Caller, limit: int, cursor: str | None) -> Page[Session]:
        """The caller's live logins, oldest first (the current one marked)."""
        now = self.clock()
        families, next_cursor = self.store.auth(caller.tenant_id, caller.actor).sessions(
            caller.user_id, limit=limit, cursor=cursor
        )
        items = [
            Session(
                id=f.id,
                created_at=f.created_at,
                last_used_at=f.last_used_at or f.created_at,
                expires_at=f.ends_at,
                user_agent=f.user_agent,
                current=f.id == caller.session_id,
            )
            for f in families
            if not f.revoked and f.ends_at > now
        ]
        return Page[Session](items=items, next_cursor=next_cursor)

    def end_session(self, caller: Caller, session_id: str) -> None:
        """End one of the caller's own logins: it can no longer refresh."""
        if not self.store.auth(caller.tenant_id, caller.actor).revoke(
            session_id, user_id=caller.user_id
        ):
            raise NotFound("session")

    def end_all_sessions(self, caller: Caller, user_id: str) -> None:
        """End every login of a user (admin): refresh tokens stop refreshing and access tokens
        stop working at once."""
        users = UserService(
            caller, self.store.users(caller.tenant_id, caller.actor), clock=self.clock
        )
        users.end_sessions(user_id)
        self.store.auth(caller.tenant_id, caller.actor).end_all(user_id)
