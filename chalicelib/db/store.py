"""The DynamoDB-backed store: hands out repositories, each bound to one tenant, and the clock
the services built on them share (``utcnow``; tests give the store a fixed one).

Each repository module (and PynamoDB with it) is imported by the first call that needs it:
importing the store costs a function's cold start nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.clock import Clock, utcnow
from chalicelib.context import Actor

if TYPE_CHECKING:  # the repositories (and PynamoDB) load on a function's first use, not at init
    from chalicelib.db.accounts import AccountRepository
    from chalicelib.db.audit import AuditRepository, AuditTable
    from chalicelib.db.auth import AuthRepository
    from chalicelib.db.bookings import BookingRepository
    from chalicelib.db.calendar import CalendarRepository
    from chalicelib.db.calendar_feeds import CalendarFeedRepository
    from chalicelib.db.catalog import CatalogRepository
    from chalicelib.db.directory import DynamoDirectory
    from chalicelib.db.escalation_queue import EscalationQueue
    from chalicelib.db.expiry_queue import ExpiryQueue
    from chalicelib.db.reminder_queue import ReminderQueue
    from chalicelib.db.scheduling import SchedulingRepository
    from chalicelib.db.tenants import TenantRepository
    from chalicelib.db.users import UserRepository
    from chalicelib.models.calendar import FeedOwner
    from chalicelib.models.tenants import Tenant
    from chalicelib.models.users import User


class DynamoStore:
    """Every repository of the app; ``services.auth.Accounts`` for the anonymous routes."""

    def __init__(self, clock: Clock = utcnow) -> None:
        self.clock = clock

    # every tenant (sign-up, login)
    def tenant_id_for_slug(self, slug: str) -> str | None:
        from chalicelib.db import tenants

        return tenants.tenant_id_for_slug(slug)

    def create_tenant_with_admin(
        self, tenant: Tenant, admin: User, password_hash: str, actor: Actor
    ) -> None:
        from chalicelib.db import tenants

        tenants.create_tenant_with_admin(tenant, admin, password_hash, actor)

    # one tenant
    def tenants(self, tenant_id: str, actor: Actor) -> TenantRepository:
        from chalicelib.db.tenants import TenantRepository

        return TenantRepository(tenant_id, actor)

    def users(self, tenant_id: str, actor: Actor) -> UserRepository:
        from chalicelib.db.users import UserRepository

        return UserRepository(tenant_id, actor)

    def auth(self, tenant_id: str, actor: Actor) -> AuthRepository:
        from chalicelib.db.auth import AuthRepository

        return AuthRepository(tenant_id, actor)

    def accounts(self, tenant_id: str, actor: Actor) -> AccountRepository:
        from chalicelib.db.accounts import AccountRepository

        return AccountRepository(tenant_id, actor)

    def bookings(self, tenant_id: str, actor: Actor) -> BookingRepository:
        from chalicelib.db.bookings import BookingRepository

        return BookingRepository(tenant_id, actor)

    def calendar(self, tenant_id: str) -> CalendarRepository:
        from chalicelib.db.calendar import CalendarRepository

        return CalendarRepository(tenant_id)

    def calendar_feeds(self, tenant_id: str, actor: Actor) -> CalendarFeedRepository:
        from chalicelib.db.calendar_feeds import CalendarFeedRepository

        return CalendarFeedRepository(tenant_id, actor)

    def feed_owner(self, token_hash: str) -> FeedOwner | None:
        """Whose calendar feed a token's hash names (any tenant): one GetItem."""
        from chalicelib.db.calendar_feeds import feed_owner

        return feed_owner(token_hash)

    def catalog(self, tenant_id: str, actor: Actor) -> CatalogRepository:
        from chalicelib.db.catalog import CatalogRepository

        return CatalogRepository(tenant_id, actor)

    def scheduling(self, tenant_id: str, actor: Actor) -> SchedulingRepository:
        from chalicelib.db.scheduling import SchedulingRepository

        return SchedulingRepository(tenant_id, actor)

    def audit(self, tenant_id: str) -> AuditRepository:
        from chalicelib.db.audit import AuditRepository

        return AuditRepository(tenant_id)

    # the system's own work (stream and queue consumers, the scheduled finder)
    def audit_log(self) -> AuditTable:
        from chalicelib.db.audit import AuditTable

        return AuditTable()

    def escalations(self) -> EscalationQueue:
        from chalicelib.db.escalation_queue import EscalationQueue

        return EscalationQueue()

    def expiries(self) -> ExpiryQueue:
        from chalicelib.db.expiry_queue import ExpiryQueue

        return ExpiryQueue()

    def reminders(self) -> ReminderQueue:
        from chalicelib.db.reminder_queue import ReminderQueue

        return ReminderQueue()

    def directory(self) -> DynamoDirectory:
        from chalicelib.db.directory import DynamoDirectory

        return DynamoDirectory()


_store: DynamoStore | None = None


def default_store() -> DynamoStore:
    global _store
    if _store is None:
        _store = DynamoStore()
    return _store
