"""Organisation sign-up and settings."""

from __future__ import annotations

from typing import Any, Protocol

from chalicelib.auth import passwords
from chalicelib.clock import Clock, utcnow
from chalicelib.config import get_settings
from chalicelib.context import Actor, Caller
from chalicelib.ids import new_id
from chalicelib.models.tenants import SignUpIn, SignUpOut, Tenant, TenantPatchIn
from chalicelib.models.users import Access, Role, User
from chalicelib.services.auth import Accounts, AuthService


class TenantRepo(Protocol):
    """The tenant record of one tenant (``db.tenants.TenantRepository``; a fake in unit tests)."""

    def get(self) -> Tenant: ...
    def update(
        self,
        *,
        name: str | None,
        escalate_after_minutes: int | None,
        scheduling: dict[str, Any] | None = None,
    ) -> Tenant: ...


class SignUpService:
    """``POST /tenants``: a new organisation with its first admin, who is logged in at once."""

    def __init__(
        self, accounts: Accounts, *, correlation_id: str | None, clock: Clock = utcnow
    ) -> None:
        self.accounts = accounts
        self.correlation_id = correlation_id
        self.clock = clock

    def sign_up(self, body: SignUpIn) -> SignUpOut:
        now = self.clock()
        tenant = Tenant(
            id=new_id(),
            slug=body.slug,
            name=body.name,
            escalate_after_minutes=get_settings().default_escalate_after_minutes,
            created_at=now,
        )
        admin = User(
            id=new_id(),
            tenant_id=tenant.id,
            email=body.admin.email,
            name=body.admin.name,
            role=Role.admin,
            active=True,
            created_at=now,
        )
        actor = Actor(user_id=admin.id, correlation_id=self.correlation_id)
        self.accounts.create_tenant_with_admin(
            tenant, admin, passwords.hash_password(body.admin.password), actor
        )
        auth = AuthService(self.accounts, correlation_id=self.correlation_id, clock=self.clock)
        access = Access(role=admin.role, active=True, auth_version=0)
        return SignUpOut(
            tenant=tenant, user=admin, tokens=auth.issue(admin.id, tenant.id, access, now=now)
        )


class TenantService:
    """The caller's organisation: read it, and (admins) change it."""

    def __init__(self, caller: Caller, repo: TenantRepo, *, clock: Clock = utcnow) -> None:
        self.caller = caller
        self.repo = repo
        self.clock = clock

    def get(self) -> Tenant:
        return self.repo.get()

    def update(self, patch: TenantPatchIn) -> Tenant:
        scheduling = patch.scheduling_changes()
        if patch.name is None and patch.escalate_after_minutes is None and not scheduling:
            return self.repo.get()
        return self.repo.update(
            name=patch.name,
            escalate_after_minutes=patch.escalate_after_minutes,
            scheduling=scheduling,
        )
