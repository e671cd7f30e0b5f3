"""User management and the role rules around it."""

from __future__ import annotations

from typing import Protocol

from chalicelib.auth import passwords
from chalicelib.clock import Clock, utcnow
from chalicelib.context import Caller
from chalicelib.errors import Forbidden, NotFound
from chalicelib.ids import new_id
from chalicelib.models.common import Page
from chalicelib.models.scheduling import UNSET, Unset
from chalicelib.models.users import Access, CreateUserIn, Role, User, UserPatchIn


class UserRepo(Protocol):
    """The users of one tenant (``db.users.UserRepository``; a fake in unit tests)."""

    def create(self, user: User, password_hash: str) -> User: ...
    def get(self, user_id: str, *, consistent: bool = False) -> User: ...
    def find(self, user_id: str) -> User | None: ...
    def update(
        self,
        user_id: str,
        *,
        name: str | None = None,
        role: Role | None = None,
        active: bool | None = None,
        time_zone: str | None | Unset = UNSET,
    ) -> User: ...
    def list(self, *, role: Role | None, limit: int, cursor: str | None) -> Page[User]: ...
    def access(self, user_id: str, *, consistent: bool) -> Access | None: ...
    def revoke_sessions(self, user_id: str) -> Access: ...


class UserService:
    def __init__(self, caller: Caller, repo: UserRepo, *, clock: Clock = utcnow) -> None:
        self.caller = caller
        self.repo = repo
        self.clock = clock

    def me(self) -> User:
        return self.repo.get(self.caller.user_id)

    def create(self, body: CreateUserIn) -> User:
        self._require_admin()
        user = User(
            id=new_id(),
            tenant_id=self.caller.tenant_id,
            email=body.email,
            name=body.name,
            role=body.role,
            active=True,
            created_at=self.clock(),
        )
        if body.password is None:  # pragma: no cover - invitations go through AccountService
            raise Forbidden("A user created here needs a password.")
        return self.repo.create(user, passwords.hash_password(body.password))

    def list(self, role: Role | None, limit: int, cursor: str | None) -> Page[User]:
        if not self.caller.is_admin and role is not Role.instructor:
            raise Forbidden("Only admins may list users; others may list role=instructor.")
        return self.repo.list(role=role, limit=limit, cursor=cursor)

    def get(self, user_id: str) -> User:
        if not (self.caller.is_admin or user_id == self.caller.user_id):
            raise NotFound("user")
        return self.repo.get(user_id)

    def update(self, user_id: str, patch: UserPatchIn) -> User:
        is_self = user_id == self.caller.user_id
        if not (self.caller.is_admin or is_self):
            raise NotFound("user")
        changes_rights = patch.role is not None or patch.active is not None
        if changes_rights and is_self:
            raise Forbidden("Nobody may change their own role or active flag.")
        if changes_rights and not self.caller.is_admin:
            raise Forbidden("Only an admin may change a role or deactivate a user.")
        sets_zone = "time_zone" in patch.model_fields_set
        if sets_zone and not is_self:
            raise Forbidden("Only the user themself may change their time zone.")
        if patch.name is None and patch.role is None and patch.active is None and not sets_zone:
            return self.repo.get(user_id)
        if sets_zone:
            return self.repo.update(
                user_id,
                name=patch.name,
                role=patch.role,
                active=patch.active,
                time_zone=patch.time_zone,
            )
        return self.repo.update(user_id, name=patch.name, role=patch.role, active=patch.active)

    def end_sessions(self, user_id: str) -> None:
        """End every login of a user at once (admin): their refresh tokens cannot refresh and
        their access tokens stop working on the next request."""
        self._require_admin()
        self.repo.revoke_sessions(user_id)  # NotFound when there is no such user

    def _require_admin(self) -> None:
        if not self.caller.is_admin:
            raise Forbidden("Only an admin may do this.")
