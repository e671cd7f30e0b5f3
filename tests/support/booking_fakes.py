"""The booking machine's tenant (five people and a published course) on the in-memory store."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.context import Actor, Caller
from chalicelib.models.catalog import CourseRecord
from chalicelib.models.scheduling import Availability
from chalicelib.models.tenants import Tenant
from chalicelib.models.users import User
from chalicelib.services.bookings import BookingService
from tests.support.booking_machine import ALWAYS, INSTRUCTORS, ROLE_OF, Stored
from tests.unit.fakes import FakeEscalations, FakeOnce, FakeStore


class FakeBackend:
    """The machine's tenant in a :class:`FakeStore`."""

    def __init__(self) -> None:
        now = datetime.now(UTC)
        self.store = FakeStore()
        self.tenant_id = "t-hypo"
        self.course = "c-algebra"
        self.ids = {who: f"u-{who}" for who in ROLE_OF}
        system = Actor(None, "setup")
        tenant = Tenant(id=self.tenant_id, slug="hypo", name="Hypo", created_at=now)
        admin = self._user("admin", now)
        self.store.create_tenant_with_admin(tenant, admin, "hash", system)
        users = self.store.users(self.tenant_id, system)
        for who in ROLE_OF:
            if who != "admin":
                users.create(self._user(who, now), "hash")
        self.store.catalog(self.tenant_id, system).create_course(
            CourseRecord(
                id=self.course,
                title="Algebra",
                description="",
                published=True,
                owner_id=admin.id,
                created_at=now.isoformat(),
                updated_at=now.isoformat(),
            )
        )
        for who in INSTRUCTORS:
            doc = Availability.model_validate(ALWAYS)
            self.store.availability[(self.tenant_id, self.ids[who])] = doc
        self.once = FakeOnce()
        #: the time the services see (``None``: the real time)
        self.now: datetime | None = None

    def clock(self) -> datetime:
        return self.now or datetime.now(UTC)

    def _user(self, who: str, now: datetime) -> User:
        return User(
            id=self.ids[who],
            tenant_id=self.tenant_id,
            email=f"{who.replace('_', '-')}@hypo.example",
            name=who,
            role=ROLE_OF[who],
            active=True,
            created_at=now,
        )

    def service(self, who: str) -> BookingService:
        caller = Caller(self.ids[who], self.tenant_id, ROLE_OF[who], f"hyp-{who}")
        repo = self.store.bookings(self.tenant_id, caller.actor)
        return BookingService(caller, repo, once=self.once, clock=self.clock)

    def escalate(self, booking_id: str, status: str) -> bool:
        actor = Actor(None, "hyp-escalation")
        queue = FakeEscalations(self.store)
        return queue.mark(self.tenant_id, booking_id, status, datetime.now(UTC), actor)

    def stored(self, booking_id: str) -> Stored:
        b = self.store.bookings_by_key[(self.tenant_id, booking_id)]
        return Stored(
            status=b.status.value,
            version=b.version,
            instructor_id=b.instructor_id,
            waiting=(self.tenant_id, booking_id) in self.store.due,
            escalated=b.escalated_at is not None,
        )

    def lock_holder(self, instructor_id: str, slot: str) -> str | None:
        return self.store.slot_locks.get((self.tenant_id, instructor_id, slot))
