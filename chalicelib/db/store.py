"""The DynamoDB-backed store: hands out repositories, each bound to one tenant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.context import Actor
from chalicelib.db import tenants as _tenants
from chalicelib.db.audit import AuditRepository
from chalicelib.db.auth import AuthRepository
from chalicelib.db.bookings import BookingRepository, run_once
from chalicelib.db.catalog import CatalogRepository
from chalicelib.db.tenants import TenantRepository
from chalicelib.db.users import UserRepository
from chalicelib.models.tenants import Tenant
from chalicelib.models.users import User


class DynamoStore:
    def tenant_id_for_slug(self, slug: str) -> str | None:
        return _tenants.tenant_id_for_slug(slug)

    def create_tenant_with_admin(
        self, tenant: Tenant, admin: User, password_hash: str, actor: Actor
    ) -> None:
        _tenants.create_tenant_with_admin(tenant, admin, password_hash, actor)

    def tenants(self, tenant_id: str, actor: Actor) -> TenantRepository:
        return TenantRepository(tenant_id, actor)

    def users(self, tenant_id: str, actor: Actor) -> UserRepository:
        return UserRepository(tenant_id, actor)

    def auth(self, tenant_id: str, actor: Actor) -> AuthRepository:
        return AuthRepository(tenant_id, actor)

    def bookings(self, tenant_id: str, actor: Actor) -> BookingRepository:
        return BookingRepository(tenant_id, actor)

    def run_once(
        self, scope: str, payload: dict[str, Any], produce: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        return run_once(scope, payload, produce)

    def catalog(self, tenant_id: str, actor: Actor) -> CatalogRepository:
        return CatalogRepository(tenant_id, actor)

    def audit(self, tenant_id: str) -> AuditRepository:
        return AuditRepository(tenant_id)


_store: DynamoStore | None = None


def default_store() -> DynamoStore:
    global _store
    if _store is None:
        _store = DynamoStore()
    return _store
