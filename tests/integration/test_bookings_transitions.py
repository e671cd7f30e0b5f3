"""The whole transition table of the contract, allowed and refused, for every kind of caller.

The expectation below is written from the contract, independently of the service's table:
wrong role → 403, a booking the caller may not see → 404, wrong state → 409 invalid_transition,
else 200 and the new state. A refused attempt changes nothing (same version, same status).
"""

from __future__ import annotations

import pytest

from tests.integration.test_bookings_support import ROLES, SOURCES, TARGET, World, make_world

STATES = ["requested", "approved", "assigned", "completed", "rejected", "cancelled"]
CALLERS = {  # caller -> role
    "admin": "admin",
    "student": "student",  # the student who booked
    "other_student": "student",
    "instructor": "instructor",  # assigned once the booking reaches `assigned`
    "other_instructor": "instructor",
}
WITH_INSTRUCTOR = {"assigned", "completed", "cancelled"}  # cancelled after being assigned


def expected(action: str, state: str, caller: str) -> int:
    if CALLERS[caller] not in ROLES[action]:
        return 403
    sees = caller in ("admin", "student") or (caller == "instructor" and state in WITH_INSTRUCTOR)
    if not sees:
        return 404
    return 200 if state in SOURCES[action] else 409


@pytest.fixture
def world(api) -> World:
    return make_world(api)


def test_transition_table_allowed_and_refused_per_role(world):
    outcomes: dict[tuple[str, str, str], int] = {}
    for action in TARGET:
        for state in STATES:
            refused = [c for c in CALLERS if expected(action, state, c) != 200]
            allowed = [c for c in CALLERS if expected(action, state, c) == 200]
            booking = world.booking_in(state)
            for caller in refused:
                r = world.act(caller, booking["id"], action)
                outcomes[(action, state, caller)] = r.status
                code = {403: "forbidden", 404: "not_found", 409: "invalid_transition"}
                assert r.status == expected(action, state, caller), (action, state, caller, r.body)
                assert r.error_code == code[r.status]
                after = world.get(booking["id"]).json
                assert (after["status"], after["version"]) == (state, booking["version"])
            for caller in allowed:
                fresh = world.booking_in(state)
                r = world.act(caller, fresh["id"], action)
                outcomes[(action, state, caller)] = r.status
                assert r.status == 200, (action, state, caller, r.body)
                assert r.json["status"] == TARGET[action]
                assert r.json["version"] == fresh["version"] + 1
                assert world.get(fresh["id"]).json["status"] == TARGET[action]
    # Every cell of the table was exercised, and each row has at least one allowed cell.
    assert len(outcomes) == len(TARGET) * len(STATES) * len(CALLERS)
    for action in TARGET:
        assert any(s == 200 for (a, _, _), s in outcomes.items() if a == action), (
            f"{action} never allowed"
        )


def test_only_students_request(world):
    body = {"course_id": world.course, "starts_at": "2099-01-01T10:00:00Z", "duration_minutes": 30}
    for who in ("admin", "instructor"):
        r = world.api.post("/bookings", body, token=world.token(who))
        assert r.status == 403 and r.error_code == "forbidden"
    r = world.api.post("/bookings", body, token=world.token("student"))
    assert r.status == 201
    b = r.json
    assert b["status"] == "requested" and b["student_id"] == world.ids["student"]
    assert b["instructor_id"] is None and b["reason"] is None and b["escalated_at"] is None
    assert b["version"] == 1 and b["tenant_id"] == world.tenant_id
    assert b["starts_at"] == "2099-01-01T10:00:00Z"


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
