"""A Hypothesis state machine over the booking rules, run against any store.

Random sequences of requests, the five transitions and escalations, by random callers; after
every step what is stored is compared with a model written from the contract's transition
table: status, version, instructor, waiting-queue membership, the instructor's time locks, and
that no instructor holds two overlapping sessions. ``tests/unit`` runs it on the in-memory
fakes (the rules, fast); ``tests/integration`` runs a shorter version on moto (the conditional
writes and the lock items).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Protocol

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, rule

from chalicelib.errors import (
    Forbidden,
    InstructorUnavailable,
    InvalidTransition,
    NoAvailability,
    NotFound,
)
from chalicelib.models.bookings import BookingIn, slots_covering
from chalicelib.models.users import Role
from chalicelib.services.bookings import Action, BookingService, roles_for
from tests.support.bookings import ROLES, SOURCES, TARGET

PEOPLE = ["admin", "student", "other_student", "instructor", "other_instructor"]
ROLE_OF = {
    "admin": Role.admin,
    "student": Role.student,
    "other_student": Role.student,
    "instructor": Role.instructor,
    "other_instructor": Role.instructor,
}
INSTRUCTORS = ["instructor", "other_instructor"]

#: Every instructor of a machine's tenant works around the clock (so only sessions decide who
#: is free): the availability its backend gives them.
ALWAYS = {
    "time_zone": "UTC",
    "weekly": [
        {"day": d, "start": "00:00", "end": "24:00"}
        for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    ],
}


@dataclass(frozen=True)
class Stored:
    """What the store holds for one booking."""

    status: str
    version: int
    instructor_id: str | None
    waiting: bool  # on the escalation queue
    escalated: bool


class Backend(Protocol):
    """A tenant with the five people and a published course, in some store."""

    tenant_id: str
    ids: dict[str, str]
    course: str
    now: datetime | None  # the time the services see (None: the real time)

    def service(self, who: str) -> BookingService: ...
    def escalate(self, booking_id: str, status: str) -> bool: ...
    def stored(self, booking_id: str) -> Stored: ...
    def lock_holder(self, instructor_id: str, slot: str) -> str | None: ...


_epochs = itertools.count()
#: Examples book in their own four hours from a day ahead on (inside the booking horizon).
_ORIGIN = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)


class BookingMachine(RuleBasedStateMachine):
    backend: ClassVar[Backend]
    bookings = Bundle("bookings")

    def __init__(self) -> None:
        super().__init__()
        # each example books in its own four hours, so examples never collide
        self.base = _ORIGIN + timedelta(hours=4 * (next(_epochs) % 500))
        self.model: dict[str, dict[str, Any]] = {}

    def busy(
        self,
        instructor: str,
        m: dict[str, Any],
        holding: tuple[str, ...] = ("assigned", "completed"),
    ) -> bool:
        start, end = m["start"], m["start"] + timedelta(minutes=m["minutes"])
        for other in self.model.values():
            if other is m or other["instructor"] != instructor:
                continue
            if other["status"] in holding:
                o_start = other["start"]
                o_end = o_start + timedelta(minutes=other["minutes"])
                if o_start < end and start < o_end:
                    return True
        return False

    def expected(self, m: dict[str, Any], action: str, who: str, instructor: str) -> Any:
        """The error the contract promises for this attempt (``None``: it succeeds)."""
        if ROLE_OF[who].value not in ROLES[action]:
            return Forbidden
        if who not in ("admin", m["student"], m["instructor"]):
            return NotFound
        if m["status"] not in SOURCES[action]:
            return InvalidTransition
        if action == "assign" and self.busy(instructor, m):
            return InstructorUnavailable
        return None

    # rules ------------------------------------------------------------------------------------
    @rule(
        target=bookings,
        who=st.sampled_from(["student", "other_student"]),
        quarter=st.integers(0, 8),
        minutes=st.sampled_from([15, 30, 45, 60, 90]),
    )
    def request(self, who: str, quarter: int, minutes: int) -> Any:
        start = self.base + timedelta(minutes=15 * quarter)
        body = BookingIn(course_id=self.backend.course, starts_at=start, duration_minutes=minutes)
        m = {
            "status": "requested",
            "version": 1,
            "student": who,
            "instructor": None,
            "start": start,
            "minutes": minutes,
            "escalated": False,
        }
        # a request needs someone free: no assigned session of theirs overlapping it
        nobody = all(self.busy(i, m, holding=("assigned",)) for i in INSTRUCTORS)
        self.backend.now = self.base - timedelta(days=1)  # the session lies ahead
        try:
            b = self.backend.service(who).request(body)
        except NoAvailability:
            assert nobody, m
            return multiple()
        assert not nobody, m
        self.model[b.id] = m
        return b.id

    @rule(
        booking=bookings,
        action=st.sampled_from(sorted(TARGET)),
        who=st.sampled_from(PEOPLE),
        instructor=st.sampled_from(INSTRUCTORS),
    )
    def act(self, booking: str, action: str, who: str, instructor: str) -> None:
        m = self.model[booking]
        expected = self.expected(m, action, who, instructor)
        kwargs: dict[str, Any] = {}
        if action == "assign":
            kwargs["instructor_id"] = self.backend.ids[instructor]
        if action in ("reject", "cancel"):
            kwargs["reason"] = "because"
        outcome: Any = None
        self.backend.now = self.base + timedelta(hours=4)  # every session has started
        try:
            # the route's role gate runs before the service (api/authentication.py)
            if ROLE_OF[who] not in roles_for(Action(action)):
                raise Forbidden("role")
            self.backend.service(who).act(Action(action), booking, **kwargs)
        except (Forbidden, NotFound, InvalidTransition, InstructorUnavailable) as exc:
            outcome = type(exc)
        assert outcome is expected, (action, who, m, outcome, expected)
        if expected is None:
            m["status"] = TARGET[action]
            m["version"] += 1
            m["escalated"] = False
            if action == "assign":
                m["instructor"] = instructor

    @rule(booking=bookings, instructor=st.sampled_from(INSTRUCTORS))
    def advance(self, booking: str, instructor: str) -> None:
        """The happy path's next step by someone allowed to take it (reaches deep states)."""
        m = self.model[booking]
        step = {"requested": "approve", "approved": "assign", "assigned": "complete"}
        self.act(booking, step.get(m["status"], "cancel"), "admin", instructor)

    @rule(booking=bookings, who=st.sampled_from(PEOPLE))
    def probe(self, booking: str, who: str) -> None:
        """Every action this caller may NOT take now is refused, and changes nothing."""
        m = self.model[booking]
        for action in sorted(TARGET):
            allowed = (
                ROLE_OF[who].value in ROLES[action]
                and who in ("admin", m["student"], m["instructor"])
                and m["status"] in SOURCES[action]
            )
            if not allowed:
                self.act(booking, action, who, "instructor")

    @rule(booking=bookings)
    def escalate(self, booking: str) -> None:
        m = self.model[booking]
        expected = m["status"] in ("requested", "approved") and not m["escalated"]
        assert self.backend.escalate(booking, m["status"]) is expected
        if expected:
            m["escalated"] = True
            m["version"] += 1

    # invariants -------------------------------------------------------------------------------
    @invariant()
    def stored_state_is_legal(self) -> None:
        ids = self.backend.ids
        for bid, m in self.model.items():
            stored = self.backend.stored(bid)
            assert stored.status == m["status"]
            assert stored.version == m["version"]
            assert stored.instructor_id == (ids[m["instructor"]] if m["instructor"] else None)
            assert stored.waiting is (
                m["status"] in ("requested", "approved") and not m["escalated"]
            )
            if m["escalated"]:
                assert stored.escalated
            holds = m["status"] in ("assigned", "completed")
            if m["instructor"]:
                for slot in slots_covering(m["start"], m["minutes"]):
                    holder = self.backend.lock_holder(ids[m["instructor"]], slot)
                    assert (holder == bid) is holds
        # no instructor holds two overlapping sessions
        held = [m for m in self.model.values() if m["status"] in ("assigned", "completed")]
        for a, b in itertools.combinations(held, 2):
            if a["instructor"] == b["instructor"]:
                a_end = a["start"] + timedelta(minutes=a["minutes"])
                b_end = b["start"] + timedelta(minutes=b["minutes"])
                assert not (a["start"] < b_end and b["start"] < a_end)
