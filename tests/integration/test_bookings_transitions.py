"""Each workflow route answers the contract's status for each kind of outcome, over HTTP.

Every (action, state, caller) cell of the transition table is checked on the rules in
``tests/unit/test_booking_transitions.py``; here each route shows, once per outcome, that it
reaches that rule and maps it to HTTP: 200 with the new state, 403 for a role the action never
allows, 404 for a booking the caller may not see, 409 ``invalid_transition`` for a wrong state,
and that a refused attempt changes nothing in the table (same status, same version).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.bookings import TARGET, World, make_world, next_start

#: action -> (a source state, an allowed caller, a role never allowed, a caller who cannot see it)
ROUTE_CASES = {
    "approve": ("requested", "admin", "student", None),
    "assign": ("approved", "admin", "instructor", None),
    "complete": ("assigned", "instructor", "student", "other_instructor"),
    "reject": ("approved", "admin", "instructor", None),
    "cancel": ("assigned", "student", "instructor", "other_student"),
}
#: action -> a state it does not start from
WRONG_STATE = {
    "approve": "approved",
    "assign": "requested",
    "complete": "approved",
    "reject": "assigned",
    "cancel": "completed",
}


@pytest.fixture
def world(api) -> World:
    return make_world(api)


def _refused(
    world: World, caller: str, booking: dict[str, Any], action: str, status: int, code: str
) -> None:
    r = world.act(caller, booking["id"], action)
    assert (r.status, r.error_code) == (status, code), (action, caller, r.body)
    after = world.get(booking["id"]).json
    assert (after["status"], after["version"]) == (booking["status"], booking["version"])


@pytest.mark.parametrize("action", sorted(TARGET))
def test_each_route_answers_each_outcome(world, action):
    source, allowed, wrong_role, blind = ROUTE_CASES[action]
    booking = world.booking_in(source)
    _refused(world, wrong_role, booking, action, 403, "forbidden")
    if blind is not None:
        _refused(world, blind, booking, action, 404, "not_found")
    _refused(
        world, "admin", world.booking_in(WRONG_STATE[action]), action, 409, "invalid_transition"
    )

    r = world.act(allowed, booking["id"], action)
    assert r.status == 200, r.body
    assert (r.json["status"], r.json["version"]) == (TARGET[action], booking["version"] + 1)
    assert world.get(booking["id"]).json["status"] == TARGET[action]


def test_only_students_request(world):
    start = next_start()
    body = {"course_id": world.course, "starts_at": start, "duration_minutes": 30}
    for who in ("admin", "instructor"):
        r = world.api.post("/bookings", body, token=world.token(who))
        assert r.status == 403 and r.error_code == "forbidden"
    r = world.api.post("/bookings", body, token=world.token("student"))
    assert r.status == 201
    b = r.json
    assert b["status"] == "requested" and b["student_id"] == world.ids["student"]
    assert b["instructor_id"] is None and b["reason"] is None and b["escalated_at"] is None
    assert b["version"] == 1 and b["tenant_id"] == world.tenant_id
    assert b["starts_at"] == start


def test_reasons_and_assignment_are_recorded(world):
    b = world.booking_in("approved")
    r = world.act("admin", b["id"], "reject", {"reason": "Holiday"})
    assert r.json["reason"] == "Holiday" and r.json["status"] == "rejected"
    b = world.booking_in("assigned")
    assert b["instructor_id"] == world.ids["instructor"]
    r = world.act("student", b["id"], "cancel", {"reason": "Ill"})
    assert r.status == 200 and r.json["reason"] == "Ill"
    # cancelling needs no body at all
    b = world.booking_in("requested")
    assert world.act("student", b["id"], "cancel").status == 200
    # reject needs a reason; unknown fields are refused
    b = world.booking_in("requested")
    r = world.act("admin", b["id"], "reject", {})
    assert r.status == 422 and r.error_code == "validation_error"
    r = world.act("admin", b["id"], "approve", {"status": "completed"})
    assert r.status == 422
    assert world.get(b["id"]).json["status"] == "requested"


def test_the_assigned_instructor_completes(world):
    b = world.booking_in("assigned")
    r = world.act("other_instructor", b["id"], "complete")
    assert r.status == 404
    r = world.act("instructor", b["id"], "complete")
    assert r.status == 200 and r.json["status"] == "completed"
    r = world.act("instructor", b["id"], "complete")
    assert r.status == 409 and r.error_code == "invalid_transition"
