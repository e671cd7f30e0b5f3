"""Property on moto: the booking state machine of ``tests/unit`` with the real data layer, so
conditional writes, the waiting-queue index and the instructor's lock items are what is
checked (fewer and shorter runs than the unit version: the rules themselves are covered there).
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from pynamodb.exceptions import DoesNotExist

from chalicelib.context import Actor, Caller
from chalicelib.db import keys
from chalicelib.db.booking_items import BookingItem, InstructorSlotItem
from chalicelib.db.bookings import request_once
from chalicelib.db.escalation_queue import EscalationQueue
from chalicelib.db.store import default_store
from chalicelib.services.bookings import BookingService
from tests.support.booking_machine import ROLE_OF, BookingMachine, Stored
from tests.support.bookings import World, make_world
from tests.support.http import Api


class DynamoBackend:
    """The machine's tenant on moto, built through the API."""

    def __init__(self, world: World) -> None:
        self.tenant_id = world.tenant_id
        self.ids = world.ids
        self.course = world.course
        self.now: datetime | None = None

    def clock(self) -> datetime:
        return self.now or datetime.now(UTC)

    def service(self, who: str) -> BookingService:
        caller = Caller(self.ids[who], self.tenant_id, ROLE_OF[who], f"hyp-{who}")
        repo = default_store().bookings(self.tenant_id, caller.actor)
        return BookingService(caller, repo, once=request_once, clock=self.clock)

    def escalate(self, booking_id: str, status: str) -> bool:
        actor = Actor(None, "hyp-escalation")
        return EscalationQueue().mark(self.tenant_id, booking_id, status, datetime.now(UTC), actor)

    def stored(self, booking_id: str) -> Stored:
        pk, sk = keys.booking_key(self.tenant_id, booking_id)
        item = BookingItem.get(pk, sk, consistent_read=True)
        assert (item.due_pk is None) is (item.due_sk is None)
        return Stored(
            status=item.status,
            version=int(item.version or 0),
            instructor_id=item.instructor_id,
            waiting=item.due_pk is not None,
            escalated=item.escalated_at is not None,
        )

    def lock_holder(self, instructor_id: str, slot: str) -> str | None:
        pk, sk = keys.instructor_slot_key(self.tenant_id, instructor_id, slot)
        try:
            return InstructorSlotItem.get(pk, sk, consistent_read=True).booking_id
        except DoesNotExist:
            return None


def test_random_action_sequences_never_persist_an_illegal_state_on_dynamodb(api: Api) -> None:
    BookingMachine.backend = DynamoBackend(make_world(api, "hypo"))
    run_state_machine_as_test(
        BookingMachine,
        settings=settings(
            max_examples=6,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
