"""Organisation sign-up and settings."""

from __future__ import annotations

from chalicelib.auth import passwords
from chalicelib.clock import utcnow
from chalicelib.config import get_settings
from chalicelib.context import Actor, Caller
from chalicelib.ids import new_id
from chalicelib.models.tenants import SignUpIn, SignUpOut, Tenant, TenantPatchIn
from chalicelib.models.users import Role, User
from chalicelib.services.auth import AuthService
from chalicelib.services.ports import Store


class TenantService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def sign_up(self, body: SignUpIn, correlation_id: str | None) -> SignUpOut:
        now = utcnow()
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
        actor = Actor(user_id=admin.id, correlation_id=correlation_id)
        self.store.create_tenant_with_admin(
            tenant, admin, passwords.hash_password(body.admin.password), actor
        )
        tokens = AuthService(self.store, correlation_id).issue(admin, now=now)
        return SignUpOut(tenant=tenant, user=admin, tokens=tokens)

    def get(self, caller: Caller) -> Tenant:
        return self.store.tenants(caller.tenant_id, caller.actor).get()

    def update(self, caller: Caller, patch: TenantPatchIn) -> Tenant:
        repo = self.store.tenants(caller.tenant_id, caller.actor)
        if patch.name is None and patch.escalate_after_minutes is None:
            return repo.get()
        return repo.update(name=patch.name, escalate_after_minutes=patch.escalate_after_minutes)
