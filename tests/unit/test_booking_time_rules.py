"""The booking-time rules cell by cell on the in-memory store: grid, notice and horizon
boundaries, who is free, who teaches, too-early completion, and who may move a booking from
which state (the HTTP answers are checked in ``tests/integration/test_booking_time_rules.py``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pydantic
import pytest

from chalicelib.errors import (
    DomainError,
    Forbidden,
    InstructorUnavailable,
    InvalidTransition,
    NoAvailability,
    NotFound,
    TooEarly,
    ValidationFailed,
)
from chalicelib.models.bookings import Booking, BookingIn, RescheduleIn
from chalicelib.models.scheduling import Availability
from chalicelib.services.bookings import Action
from tests.support.booking_fakes import FakeBackend
from tests.support.booking_machine import ROLE_OF

NOW = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)  # a Monday
MONDAY = datetime(2027, 2, 1, tzinfo=UTC)
NINE_TO_FIVE = {"time_zone": "UTC", "weekly": [{"day": "mon", "start": "09:00", "end": "17:00"}]}


@pytest.fixture
def backend() -> FakeBackend:
    b = FakeBackend()
    b.now = NOW
    for who in ("instructor", "other_instructor"):
        b.store.availability[(b.tenant_id, b.ids[who])] = Availability.model_validate(NINE_TO_FIVE)
    return b


def at(hour: int, minute: int = 0, day: datetime = MONDAY) -> datetime:
    return day + timedelta(hours=hour, minutes=minute)


def request(backend: FakeBackend, start: datetime, minutes: int = 60, **extra: Any) -> Booking:
    body = BookingIn(course_id=backend.course, starts_at=start, duration_minutes=minutes, **extra)
    return backend.service("student").request(body)


def assigned(backend: FakeBackend, start: datetime, who: str = "instructor") -> Booking:
    b = request(backend, start)
    admin = backend.service("admin")
    admin.act(Action.approve, b.id)
    return admin.act(Action.assign, b.id, instructor_id=backend.ids[who])


def teach(backend: FakeBackend, *who: str) -> None:
    key = (backend.tenant_id, backend.course)
    tree = backend.store.courses[key]
    tree.course = replace(tree.course, instructor_ids=tuple(backend.ids[w] for w in who))


# --- grid, notice, horizon ---------------------------------------------------------------------
@pytest.mark.parametrize("minute", range(60))
def test_only_quarter_hours_start_a_session(backend, minute):
    start = at(9, minute)
    if minute % 15:
        with pytest.raises(ValidationFailed):
            request(backend, start, 15)
    else:
        assert request(backend, start, 15).starts_at == start


@pytest.mark.parametrize("extra", [timedelta(seconds=1), timedelta(microseconds=1)])
def test_seconds_and_microseconds_are_off_the_grid(backend, extra):
    with pytest.raises(ValidationFailed) as refused:
        request(backend, at(9) + extra)
    assert refused.value.details[0]["field"] == "starts_at"


@pytest.mark.parametrize("minutes", range(15, 241))
def test_durations_are_whole_quarter_hours(backend, minutes):
    backend.store.availability[(backend.tenant_id, backend.ids["instructor"])] = (
        Availability.model_validate(
            {"time_zone": "UTC", "weekly": [{"day": "mon", "start": "00:00", "end": "24:00"}]}
        )
    )
    if minutes % 15:  # the request's schema refuses it (the answer names the field)
        with pytest.raises(pydantic.ValidationError) as refused:
            request(backend, at(9), minutes)
        assert refused.value.errors()[0]["loc"] == ("duration_minutes",)
    else:
        assert request(backend, at(9), minutes).duration_minutes == minutes


@pytest.mark.parametrize(
    ("notice", "ahead", "ok"),
    [(120, 119, False), (120, 120, True), (0, 15, True), (60, 45, False), (60, 60, True)],
)
def test_notice_is_counted_from_now(backend, notice, ahead, ok):
    tenant = backend.store.tenants_by_id[backend.tenant_id]
    backend.store.tenants_by_id[backend.tenant_id] = tenant.model_copy(
        update={"min_notice_minutes": notice}
    )
    backend.now = at(9) - timedelta(minutes=ahead)
    if ok:
        assert request(backend, at(9)).status.value == "requested"
    else:
        with pytest.raises(ValidationFailed):
            request(backend, at(9))


@pytest.mark.parametrize(("days", "ok"), [(90, False), (89, True)])
def test_the_horizon_ends_before_now_plus_its_days(backend, days, ok):
    backend.now = at(9) - timedelta(days=days)
    if ok:
        request(backend, at(9))
    else:
        with pytest.raises(ValidationFailed):
            request(backend, at(9))


# --- who is free -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "minutes", "ok"),
    [
        (at(9), 60, True),
        (at(16), 60, True),  # ends at 17:00
        (at(16, 15), 60, False),  # runs past 17:00
        (at(8, 45), 30, False),  # begins before 09:00
        (at(9, day=MONDAY + timedelta(days=1)), 60, False),  # a Tuesday
    ],
)
def test_a_request_needs_the_whole_session_inside_someones_availability(
    backend, start, minutes, ok
):
    if ok:
        request(backend, start, minutes)
    else:
        with pytest.raises(NoAvailability):
            request(backend, start, minutes)
        assert backend.store.bookings_by_key == {}


def test_a_request_needs_someone_without_an_overlapping_session(backend):
    assigned(backend, at(10), "instructor")
    request(backend, at(10, 30), 30)  # the other instructor is free
    assigned(backend, at(10), "other_instructor")
    with pytest.raises(NoAvailability):
        request(backend, at(10, 45), 15)
    request(backend, at(11), 15)  # both sessions have ended
    request(backend, at(9, 45), 15)  # and neither has begun


def test_a_preferred_instructor_must_be_free_and_teach_the_course(backend):
    assigned(backend, at(10), "instructor")
    me = backend.ids["instructor"]
    with pytest.raises(InstructorUnavailable):
        request(backend, at(10, 30), 30, instructor_id=me)
    assert request(backend, at(11), 30, instructor_id=me).requested_instructor_id == me
    teach(backend, "other_instructor")
    with pytest.raises(InstructorUnavailable):
        request(backend, at(13), 30, instructor_id=me)


def test_only_the_courses_instructors_count_and_inactive_ones_never(backend):
    teach(backend, "other_instructor")
    assigned(backend, at(10), "other_instructor")
    with pytest.raises(NoAvailability):  # "instructor" is free but does not teach it
        request(backend, at(10), 60)
    teach(backend)
    request(backend, at(10), 60)
    users = backend.store.users_by_key
    key = (backend.tenant_id, backend.ids["instructor"])
    users[key] = users[key].model_copy(update={"active": False})
    with pytest.raises(NoAvailability):
        request(backend, at(10), 60)


# --- assignment --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("teachers", "window", "error"),
    [
        ((), NINE_TO_FIVE, None),
        (("instructor",), NINE_TO_FIVE, None),
        (("other_instructor",), NINE_TO_FIVE, InstructorUnavailable),
        ((), {"time_zone": "UTC"}, InstructorUnavailable),
        ((), {"time_zone": "America/New_York", "weekly": NINE_TO_FIVE["weekly"]}, None),
        ((), {"time_zone": "Asia/Tokyo", "weekly": NINE_TO_FIVE["weekly"]}, InstructorUnavailable),
    ],
)
def test_assignment_needs_a_teacher_of_the_course_available_then(backend, teachers, window, error):
    b = request(backend, at(15), 60)  # 15:00 UTC is 10:00 in New York, midnight in Tokyo
    admin = backend.service("admin")
    admin.act(Action.approve, b.id)
    teach(backend, *teachers)
    key = (backend.tenant_id, backend.ids["instructor"])
    backend.store.availability[key] = Availability.model_validate(window)
    assign = lambda: admin.act(Action.assign, b.id, instructor_id=backend.ids["instructor"])  # noqa: E731
    if error is None:
        assert assign().status.value == "assigned"
    else:
        with pytest.raises(error):
            assign()
        assert backend.stored(b.id).status == "approved"
        assert backend.lock_holder(backend.ids["instructor"], "2027-02-01T15:00") is None


# --- too early ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("offset", "ok"),
    [(timedelta(seconds=-1), False), (timedelta(0), True), (timedelta(hours=3), True)],
)
def test_completion_waits_for_the_start(backend, offset, ok):
    b = assigned(backend, at(10))
    backend.now = at(10) + offset
    for who in ("instructor", "admin"):
        if ok:
            assert backend.service(who).act(Action.complete, b.id).status.value == "completed"
            return
        with pytest.raises(TooEarly):
            backend.service(who).act(Action.complete, b.id)
        assert backend.stored(b.id).status == "assigned"


# --- reschedule: who, from which state ---------------------------------------------------------
PATHS = {
    "requested": [],
    "approved": ["approve"],
    "assigned": ["approve", "assign"],
    "completed": ["approve", "assign", "complete"],
    "rejected": ["reject"],
    "cancelled": ["cancel"],
}
#: The contract: the student who booked while requested or approved; an admin until assigned.
MAY = {
    "student": {"requested", "approved"},
    "admin": {"requested", "approved", "assigned"},
}


def booking_in(backend: FakeBackend, state: str, hour: int) -> Booking:
    b = request(backend, at(hour))
    admin = backend.service("admin")
    for action in PATHS[state]:
        if action == "complete":
            backend.now = at(hour)
        extra: dict[str, Any] = {}
        if action == "assign":
            extra["instructor_id"] = backend.ids["instructor"]
        if action in ("reject", "cancel"):
            extra["reason"] = "because"
        b = admin.act(Action(action), b.id, **extra)
    backend.now = NOW
    return b


def expected(state: str, caller: str) -> type[DomainError] | None:
    if ROLE_OF[caller].value not in ("student", "admin"):
        return Forbidden  # the route's role gate
    sees = caller in ("admin", "student")
    if not sees:
        return NotFound
    if state not in MAY["admin"]:
        return InvalidTransition
    return None if state in MAY.get(caller, set()) else Forbidden


@pytest.mark.parametrize("state", sorted(PATHS))
@pytest.mark.parametrize("caller", sorted(ROLE_OF))
def test_every_cell_of_who_may_move_what(backend: FakeBackend, state: str, caller: str) -> None:
    b = booking_in(backend, state, 9)
    outcome = expected(state, caller)
    body = RescheduleIn(starts_at=at(13), duration_minutes=30)

    def move() -> Booking:
        if ROLE_OF[caller].value not in ("student", "admin"):
            raise Forbidden("role")
        return backend.service(caller).reschedule(b.id, body)

    if outcome is None:
        moved = move()
        assert (moved.status, moved.version) == (b.status, b.version + 1)
        assert (moved.starts_at, moved.duration_minutes) == (at(13), 30)
    else:
        with pytest.raises(outcome):
            move()
        stored = backend.store.bookings_by_key[(backend.tenant_id, b.id)]
        assert stored == b


@pytest.mark.parametrize(
    ("starts_at", "minutes", "error"),
    [
        (at(13, 5), None, ValidationFailed),
        (at(13), 20, pydantic.ValidationError),  # the schema's multiple of 15
        (NOW + timedelta(minutes=30), None, ValidationFailed),  # inside the notice
        (NOW - timedelta(hours=1), None, ValidationFailed),  # in the past
        (at(13, day=MONDAY + timedelta(days=91)), None, ValidationFailed),  # past the horizon
        (at(13, day=MONDAY + timedelta(days=1)), None, NoAvailability),  # Tuesday
        (at(16, 30), None, NoAvailability),  # past 17:00
        (at(13), None, None),
        (at(13), 120, None),
    ],
)
def test_a_new_time_follows_the_booking_time_rules(backend, starts_at, minutes, error):
    b = request(backend, at(9))
    if error is None:
        body = RescheduleIn(starts_at=starts_at, duration_minutes=minutes)
        moved = backend.service("student").reschedule(b.id, body)
        assert moved.duration_minutes == (minutes or 60)
    else:
        with pytest.raises(error):
            body = RescheduleIn(starts_at=starts_at, duration_minutes=minutes)
            backend.service("student").reschedule(b.id, body)
        assert backend.store.bookings_by_key[(backend.tenant_id, b.id)] == b


def test_moving_an_assigned_booking_swaps_its_blocks_or_changes_nothing(backend):
    me = backend.ids["instructor"]
    mine = assigned(backend, at(9))
    other = assigned(backend, at(11))
    admin = backend.service("admin")
    with pytest.raises(InstructorUnavailable):  # onto the other session
        admin.reschedule(mine.id, RescheduleIn(starts_at=at(10, 30)))
    with pytest.raises(InstructorUnavailable):  # outside the instructor's availability
        admin.reschedule(mine.id, RescheduleIn(starts_at=at(16, 30)))
    assert backend.store.bookings_by_key[(backend.tenant_id, mine.id)] == mine
    assert backend.lock_holder(me, "2027-02-01T09:00") == mine.id
    # overlapping its own old time is fine: the shared blocks stay, the others move
    moved = admin.reschedule(mine.id, RescheduleIn(starts_at=at(9, 30)))
    assert moved.version == mine.version + 1
    holders = {
        f"2027-02-01T{h}": backend.lock_holder(me, f"2027-02-01T{h}")
        for h in ("09:00", "09:15", "09:30", "10:15", "10:30", "11:00")
    }
    assert holders == {
        "2027-02-01T09:00": None,
        "2027-02-01T09:15": None,
        "2027-02-01T09:30": mine.id,
        "2027-02-01T10:15": mine.id,
        "2027-02-01T10:30": None,
        "2027-02-01T11:00": other.id,
    }


def test_a_waiting_booking_keeps_its_preferred_instructor_rule(backend):
    b = request(backend, at(9), instructor_id=backend.ids["instructor"])
    assigned(backend, at(13), "instructor")
    with pytest.raises(InstructorUnavailable):
        backend.service("student").reschedule(b.id, RescheduleIn(starts_at=at(13)))
    assert backend.service("student").reschedule(b.id, RescheduleIn(starts_at=at(14))).version == 2
