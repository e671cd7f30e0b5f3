"""The whole transition table of the contract, every (action, state, caller) cell, on the rules.

The expectation is written from the contract, independently of the service's table: a role the
action never allows → forbidden, a booking the caller may not see → not found, a state the action
does not start from → invalid transition, else the new state with the version one higher. A
refused attempt changes nothing. (The HTTP status of each outcome is checked route by route in
``tests/integration/test_bookings_transitions.py``.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.errors import DomainError, Forbidden, InvalidTransition, NotFound
from chalicelib.models.bookings import Booking, BookingIn
from chalicelib.services.bookings import Action, roles_for
from tests.support.booking_fakes import FakeBackend
from tests.support.booking_machine import ROLE_OF
from tests.support.bookings import ROLES, SOURCES, TARGET

STATES = ["requested", "approved", "assigned", "completed", "rejected", "cancelled"]
PATHS = {
    "requested": [],
    "approved": ["approve"],
    "assigned": ["approve", "assign"],
    "completed": ["approve", "assign", "complete"],
    "rejected": ["approve", "reject"],
    "cancelled": ["approve", "assign", "cancel"],
}
WITH_INSTRUCTOR = {"assigned", "completed", "cancelled"}  # cancelled after being assigned


def expected(action: str, state: str, caller: str) -> type[DomainError] | None:
    if ROLE_OF[caller].value not in ROLES[action]:
        return Forbidden
    sees = caller in ("admin", "student") or (caller == "instructor" and state in WITH_INSTRUCTOR)
    if not sees:
        return NotFound
    return None if state in SOURCES[action] else InvalidTransition


def _kwargs(action: str, backend: FakeBackend) -> dict[str, Any]:
    if action == "assign":
        return {"instructor_id": backend.ids["instructor"]}
    if action in ("reject", "cancel"):
        return {"reason": "because"}
    return {}


def booking_in(backend: FakeBackend, state: str) -> Booking:
    """Booked ten days ago for a session that has started by now (so it may be completed)."""
    backend.now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=10)
    start = backend.now + timedelta(days=1, hours=2 * len(backend.store.bookings_by_key))
    body = BookingIn(course_id=backend.course, starts_at=start, duration_minutes=60)
    booking = backend.service("student").request(body)
    for action in PATHS[state]:
        backend.now = None if action == "complete" else backend.now
        booking = backend.service("admin").act(
            Action(action), booking.id, **_kwargs(action, backend)
        )
    backend.now = None
    assert booking.status.value == state
    return booking


def attempt(backend: FakeBackend, action: str, caller: str, booking_id: str) -> Any:
    """What the route does: its role gate (from the same table), then the service."""
    if ROLE_OF[caller] not in roles_for(Action(action)):
        raise Forbidden("role")
    return backend.service(caller).act(Action(action), booking_id, **_kwargs(action, backend))


@pytest.mark.parametrize("action", sorted(TARGET))
def test_every_cell_of_the_table(action: str) -> None:
    backend = FakeBackend()
    cells = 0
    for state in STATES:
        for caller in ROLE_OF:
            booking = booking_in(backend, state)
            outcome = expected(action, state, caller)
            if outcome is None:
                after = attempt(backend, action, caller, booking.id)
                assert (after.status.value, after.version) == (TARGET[action], booking.version + 1)
            else:
                with pytest.raises(outcome):
                    attempt(backend, action, caller, booking.id)
                stored = backend.stored(booking.id)
                assert (stored.status, stored.version) == (state, booking.version)
            cells += 1
    assert cells == len(STATES) * len(ROLE_OF)
    assert any(expected(action, s, c) is None for s in STATES for c in ROLE_OF)
