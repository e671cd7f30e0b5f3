"""The DynamoDB-backed store: hands out repositories, each bound to one tenant, and the clock
the services built on them share (``utcnow``; tests give the store a fixed one)."""

from __future__ import annotations

from chalicelib.clock import Clock, utcnow
from chalicelib.context import Actor
from chalicelib.db import tenants as _tenants
from chalicelib.db.audit import AuditRepository, AuditTable
from chalicelib.db.auth import AuthRepository
from chalicelib.db.bookings import BookingRepository
from chalicelib.db.catalog import CatalogRepository
from chalicelib.db.directory import DynamoDirectory
from chalicelib.db.escalation_queue import EscalationQueue
from chalicelib.db.scheduling import SchedulingRepository
from chalicelib.db.tenants import TenantRepository
from chalicelib.db.users import UserRepository
from chalicelib.models.tenants import Tenant
from chalicelib.models.users import User


class DynamoStore:
    """Every repository of the app; ``services.auth.Accounts`` for the anonymous routes."""

    def __init__(self, clock: Clock = utcnow) -> None:
        self.clock = clock

    # every tenant (sign-up, login)
    def tenant_id_for_slug(self, slug: str) -> str | None:
        return _tenants.tenant_id_for_slug(slug)

    def create_tenant_with_admin(
        self, tenant: Tenant, admin: User, password_hash: str, actor: Actor
    ) -> None:
        _tenants.create_tenant_with_admin(tenant, admin, password_hash, actor)

    # one tenant
    def tenants(self, tenant_id: str, actor: Actor) -> TenantRepository:
        return TenantRepository(tenant_id, actor)

    def users(self, tenant_id: str, actor: Actor) -> UserRepository:
        return UserRepository(tenant_id, actor)

    def auth(self, tenant_id: str, actor: Actor) -> AuthRepository:
        return AuthRepository(tenant_id, actor)

    def bookings(self, tenant_id: str, actor: Actor) -> BookingRepository:
        return BookingRepository(tenant_id, actor)

    def catalog(self, tenant_id: str, actor: Actor) -> CatalogRepository:
        return CatalogRepository(tenant_id, actor)

    def scheduling(self, tenant_id: str, actor: Actor) -> SchedulingRepository:
        return SchedulingRepository(tenant_id, actor)

    def audit(self, tenant_id: str) -> AuditRepository:
        return AuditRepository(tenant_id)

    # the system's own work (stream and queue consumers, the scheduled finder)
    def audit_log(self) -> AuditTable:
        return AuditTable()

    def escalations(self) -> EscalationQueue:
        return EscalationQueue()

    def directory(self) -> DynamoDirectory:
        return DynamoDirectory()


_store: DynamoStore | None = None


def default_store() -> DynamoStore:
    global _store
    if _store is None:
        _store = DynamoStore()
    return _store
