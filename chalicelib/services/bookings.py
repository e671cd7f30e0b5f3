"""The booking workflow: one transition table (data), visibility, validation, idempotent requests.

Every action is a row of :data:`TRANSITIONS`: who may do it (roles or an ownership rule), from
which states, to which state, and which side effects the data layer must apply in the same
conditional write (waiting queue, instructor time). :meth:`BookingService.act` is the only code
that interprets the table; nothing else decides whether a transition is allowed.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from chalicelib.clock import Clock, utcnow
from chalicelib.config import get_settings
from chalicelib.context import Caller
from chalicelib.errors import (
    Forbidden,
    InstructorUnavailable,
    InvalidTransition,
    NoAvailability,
    NotFound,
    TooEarly,
    ValidationFailed,
)
from chalicelib.ids import new_id
from chalicelib.models.bookings import (
    WAITING_STATES,
    AssignContext,
    Booking,
    BookingIn,
    BookingStatus,
    RequestContext,
    RescheduleContext,
    RescheduleIn,
)
from chalicelib.models.common import Page
from chalicelib.models.scheduling import (
    GRID_MINUTES,
    MAX_DURATION,
    Availability,
    BookingSettings,
    Busy,
    available_for,
    free_at,
    on_grid,
    teaches,
)
from chalicelib.models.users import Role, User

S = BookingStatus


class BookingRepo(Protocol):
    """The bookings of one tenant (``db.bookings.BookingRepository``; a fake in unit tests)."""

    def get(self, booking_id: str) -> Booking: ...
    def request_context(self, course_id: str, instructor_id: str | None) -> RequestContext: ...
    def get_with_escalation_delay(self, booking_id: str) -> tuple[Booking | None, int | None]: ...
    def get_with_user(
        self, booking_id: str, user_id: str
    ) -> tuple[Booking | None, User | None]: ...
    def list(
        self,
        *,
        student_id: str | None = None,
        instructor_id: str | None = None,
        status: BookingStatus | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> Page[Booking]: ...
    def create(self, booking: Booking, *, escalate_at: datetime | None) -> Booking: ...
    def transition(
        self,
        current: Booking,
        to: BookingStatus,
        *,
        escalate_at: datetime | None = None,
        instructor_id: str | None = None,
        reason: str | None = None,
        claim_time: bool = False,
        release_time: bool = False,
        reminder_minutes: int | None = None,
    ) -> Booking: ...
    def assign_context(self, booking_id: str, instructor_id: str) -> AssignContext: ...
    def reschedule_context(self, booking_id: str) -> RescheduleContext: ...
    def teachers(
        self, user_ids: builtins.list[str]
    ) -> dict[str, tuple[User, Availability | None]]: ...
    def instructor_ids(self) -> builtins.list[str]: ...
    def assigned_between(
        self, instructor_id: str, start: datetime, end: datetime
    ) -> builtins.list[Busy]: ...
    def reschedule(
        self,
        current: Booking,
        starts_at: datetime,
        duration_minutes: int,
        *,
        reminder_minutes: int | None = None,
    ) -> Booking: ...


#: Runs ``produce`` at most once per ``scope`` and answers its (stored) result; a different
#: ``payload`` under the same scope is refused (``db.bookings.request_once``).
Once = Callable[[str, dict[str, Any], Callable[[], dict[str, Any]]], dict[str, Any]]


class Action(StrEnum):
    request = "request"
    approve = "approve"
    assign = "assign"
    complete = "complete"
    reject = "reject"
    cancel = "cancel"


class Party(StrEnum):
    """Who may act: a role, or a relation between the caller and the booking."""

    student = "student"  # any student of the tenant (creates their own booking)
    admin = "admin"  # any admin of the tenant
    booking_student = "booking_student"  # the student who booked it
    assigned_instructor = "assigned_instructor"  # the instructor it is assigned to


@dataclass(frozen=True)
class Rule:
    parties: frozenset[Party]
    sources: frozenset[BookingStatus]  # empty: the action creates the booking
    target: BookingStatus
    claims_time: bool = False  # lock the instructor's blocks in the same transaction
    releases_time: bool = False  # free them (when leaving ``assigned``) in the same transaction


def _rule(
    parties: set[Party], sources: set[BookingStatus], target: BookingStatus, **effects: bool
) -> Rule:
    return Rule(frozenset(parties), frozenset(sources), target, **effects)


#: THE transition table (docs/architecture.md, "Who may do what"). Any other (action, state,
#: caller) is refused.
TRANSITIONS: Mapping[Action, Rule] = {
    Action.request: _rule({Party.student}, set(), S.requested),
    Action.approve: _rule({Party.admin}, {S.requested}, S.approved),
    Action.assign: _rule({Party.admin}, {S.approved}, S.assigned, claims_time=True),
    Action.complete: _rule({Party.assigned_instructor, Party.admin}, {S.assigned}, S.completed),
    Action.reject: _rule({Party.admin}, {S.requested, S.approved}, S.rejected),
    Action.cancel: _rule(
        {Party.booking_student, Party.admin},
        {S.requested, S.approved, S.assigned},
        S.cancelled,
        releases_time=True,
    ),
}


#: The role a caller needs to be each party (so routes can gate roles from the same table).
_PARTY_ROLE: Mapping[Party, Role] = {
    Party.student: Role.student,
    Party.admin: Role.admin,
    Party.booking_student: Role.student,
    Party.assigned_instructor: Role.instructor,
}


#: Who may move a booking to another time, and from which states (``reschedule``): its student
#: while an admin has not assigned it yet, an admin until the session is held.
RESCHEDULE: Mapping[Party, frozenset[BookingStatus]] = {
    Party.booking_student: frozenset({S.requested, S.approved}),
    Party.admin: frozenset({S.requested, S.approved, S.assigned}),
}
RESCHEDULE_ROLES: tuple[Role, ...] = tuple(sorted({_PARTY_ROLE[p] for p in RESCHEDULE}))


def roles_for(action: Action) -> tuple[Role, ...]:
    """The roles that may ever take ``action`` (the route's role gate, and its OpenAPI entry)."""
    return tuple(sorted({_PARTY_ROLE[p] for p in TRANSITIONS[action].parties}))


def parties_of(caller: Caller, booking: Booking | None) -> set[Party]:
    """Every party the caller is, for this booking (or for a booking still to be created)."""
    out: set[Party] = set()
    if caller.role is Role.admin:
        out.add(Party.admin)
    if caller.role is Role.student:
        out.add(Party.student)
        if booking is not None and booking.student_id == caller.user_id:
            out.add(Party.booking_student)
    if (
        caller.role is Role.instructor
        and booking is not None
        and booking.instructor_id == caller.user_id
    ):
        out.add(Party.assigned_instructor)
    return out


def may_see(caller: Caller, booking: Booking) -> bool:
    """Its student, its assigned instructor and admins; everyone else gets a 404."""
    return bool(
        parties_of(caller, booking)
        & {Party.admin, Party.booking_student, Party.assigned_instructor}
    )


def _invalid(field: str, problem: str) -> ValidationFailed:
    return ValidationFailed(
        "The request is not valid.",
        details=[{"field": field, "problem": problem, "type": "value_error"}],
    )


class BookingService:
    def __init__(
        self, caller: Caller, repo: BookingRepo, *, once: Once | None = None, clock: Clock = utcnow
    ) -> None:
        self.caller = caller
        self.repo = repo
        self.once = once
        self.clock = clock

    # request --------------------------------------------------------------------------------
    def request(self, body: BookingIn, idempotency_key: str | None = None) -> Booking:
        self._authorize(TRANSITIONS[Action.request], None)
        if idempotency_key is None or self.once is None:
            return self._request(body)
        scope = f"{self.caller.tenant_id}#{self.caller.user_id}#{idempotency_key}"
        result = self.once(
            scope, body.model_dump(mode="json"), lambda: self._request(body).model_dump(mode="json")
        )
        return Booking.model_validate(result)

    def _request(self, body: BookingIn) -> Booking:
        now = self.clock()
        if body.starts_at <= now:
            raise _invalid("starts_at", "must be in the future")
        _check_grid(body.starts_at, body.duration_minutes)
        context = self.repo.request_context(body.course_id, body.instructor_id)
        if not context.course_published:
            raise NotFound("course")  # a draft is invisible to students, as in the catalog
        self._check_window(body.starts_at, context.settings)
        if body.instructor_id is not None:
            self._check_instructor(context.instructor, "instructor_id")
            if not self._is_free(
                body.instructor_id,
                context.availability,
                context.course_instructor_ids,
                body.starts_at,
                body.duration_minutes,
            ):
                raise _unavailable()
        elif not self._anyone_free(
            context.course_instructor_ids, body.starts_at, body.duration_minutes
        ):
            raise NoAvailability("No instructor who teaches this course is free at that time.")
        booking = Booking(
            id=new_id(),
            tenant_id=self.caller.tenant_id,
            student_id=self.caller.user_id,
            course_id=body.course_id,
            instructor_id=None,
            requested_instructor_id=body.instructor_id,
            starts_at=body.starts_at,
            duration_minutes=body.duration_minutes,
            status=TRANSITIONS[Action.request].target,
            note=body.note,
            created_at=now,
            updated_at=now,
            version=1,
        )
        return self.repo.create(
            booking, escalate_at=_escalate_at(context.escalate_after_minutes, now)
        )

    # reads ----------------------------------------------------------------------------------
    def get(self, booking_id: str) -> Booking:
        booking = self.repo.get(booking_id)
        if not may_see(self.caller, booking):
            raise NotFound("booking")
        return booking

    def list(self, status: BookingStatus | None, limit: int, cursor: str | None) -> Page[Booking]:
        role = self.caller.role
        if role is Role.admin:
            return self.repo.list(status=status, limit=limit, cursor=cursor)
        if role is Role.instructor:
            return self.repo.list(
                instructor_id=self.caller.user_id, status=status, limit=limit, cursor=cursor
            )
        return self.repo.list(
            student_id=self.caller.user_id, status=status, limit=limit, cursor=cursor
        )

    # transitions ----------------------------------------------------------------------------
    def act(
        self,
        action: Action,
        booking_id: str,
        *,
        instructor_id: str | None = None,
        reason: str | None = None,
    ) -> Booking:
        """Apply one row of the table to one booking, as one conditional write."""
        rule = TRANSITIONS[action]
        enters_waiting = rule.target in WAITING_STATES
        booking: Booking | None
        delay: int | None = None
        instructor: User | None = None
        assignment: AssignContext | None = None
        if enters_waiting:
            booking, delay = self.repo.get_with_escalation_delay(booking_id)
        elif rule.claims_time and instructor_id is not None:
            assignment = self.repo.assign_context(booking_id, instructor_id)
            booking, instructor = assignment.booking, assignment.instructor
        else:
            booking = self.repo.get(booking_id)
        if booking is None or not may_see(self.caller, booking):
            raise NotFound("booking")
        self._authorize(rule, booking)
        if booking.status not in rule.sources:
            raise InvalidTransition(
                f"Cannot {action.value} a booking that is {booking.status.value}."
            )
        if action is Action.complete and self.clock() < booking.starts_at:
            raise TooEarly("A session can be completed only once it has started.")
        if rule.claims_time:
            self._check_instructor(instructor, "instructor_id")
            assert assignment is not None and instructor is not None
            # The time locks decide overlaps; here: teaches the course and works then.
            if not teaches(assignment.course_instructor_ids, instructor.id) or not available_for(
                assignment.availability, booking.starts_at, booking.duration_minutes
            ):
                raise _unavailable()
        return self.repo.transition(
            booking,
            rule.target,
            escalate_at=_escalate_at(delay, self.clock()) if enters_waiting else None,
            instructor_id=instructor_id if rule.claims_time else None,
            reason=reason,
            claim_time=rule.claims_time,
            release_time=rule.releases_time and booking.status is S.assigned,
            # an assigned session is reminded of with the tenant's setting at assignment
            reminder_minutes=assignment.reminder_minutes_before if assignment else None,
        )

    # reschedule ------------------------------------------------------------------------------
    def reschedule(self, booking_id: str, body: RescheduleIn) -> Booking:
        """Move a booking to another time; its status stays, its version rises by one."""
        context = self.repo.reschedule_context(booking_id)
        booking = self._movable(context.booking)
        starts_at = body.starts_at
        minutes = body.duration_minutes or booking.duration_minutes
        if starts_at <= self.clock():
            raise _invalid("starts_at", "must be in the future")
        _check_grid(starts_at, minutes)
        self._check_window(starts_at, context.settings)
        teachers = context.course_instructor_ids
        if booking.status is S.assigned and booking.instructor_id:
            # the instructor must teach the course and work then; the lock swap decides overlaps
            uid = booking.instructor_id
            user, doc = self.repo.teachers([uid]).get(uid, (None, None))
            if (
                user is None
                or user.role is not Role.instructor
                or not user.active
                or not teaches(teachers, uid)
                or not available_for(doc, starts_at, minutes)
            ):
                raise _unavailable()
        elif booking.requested_instructor_id:
            uid = booking.requested_instructor_id
            user, doc = self.repo.teachers([uid]).get(uid, (None, None))
            if user is None or not self._is_free(uid, doc, teachers, starts_at, minutes, user=user):
                raise _unavailable()
        elif not self._anyone_free(teachers, starts_at, minutes):
            raise NoAvailability("No instructor who teaches this course is free at that time.")
        # its reminder follows the new time, as long before it as when it was assigned
        return self.repo.reschedule(
            booking, starts_at, minutes, reminder_minutes=context.reminder_minutes
        )

    def _movable(self, booking: Booking | None) -> Booking:
        """The booking, if the caller may move it in its present state (404, 403, 409)."""
        if booking is None or not may_see(self.caller, booking):
            raise NotFound("booking")
        mine = [RESCHEDULE[p] for p in parties_of(self.caller, booking) if p in RESCHEDULE]
        if not mine:
            raise Forbidden("Your role may not move this booking.")
        if booking.status not in RESCHEDULE[Party.admin]:
            raise InvalidTransition(f"Cannot reschedule a booking that is {booking.status.value}.")
        if not any(booking.status in states for states in mine):
            raise Forbidden("Only an admin may move an assigned booking.")
        return booking

    # booking-time rules ----------------------------------------------------------------------
    def _check_window(self, starts_at: datetime, settings: BookingSettings | None) -> None:
        """At least the tenant's notice ahead, and before its horizon ends."""
        settings = settings or BookingSettings()
        now = self.clock()
        if starts_at < now + timedelta(minutes=settings.min_notice_minutes):
            raise _invalid(
                "starts_at", f"must be at least {settings.min_notice_minutes} minutes ahead"
            )
        if starts_at >= now + timedelta(days=settings.booking_horizon_days):
            raise _invalid(
                "starts_at", f"must be within {settings.booking_horizon_days} days from now"
            )

    def _is_free(
        self,
        instructor_id: str,
        doc: Availability | None,
        course_teachers: tuple[str, ...],
        starts_at: datetime,
        minutes: int,
        *,
        user: User | None = None,
        ignore: str | None = None,
    ) -> bool:
        """Teaches the course, is available for the whole session and holds no assigned
        session overlapping it (read only when the availability allows it)."""
        if user is not None and (user.role is not Role.instructor or not user.active):
            return False
        if not teaches(course_teachers, instructor_id) or not available_for(
            doc, starts_at, minutes
        ):
            return False
        end = starts_at + timedelta(minutes=minutes)
        sessions = self.repo.assigned_between(instructor_id, starts_at - MAX_DURATION, end)
        return free_at(doc, sessions, starts_at, minutes, ignore=ignore)

    def _anyone_free(
        self,
        course_teachers: tuple[str, ...],
        starts_at: datetime,
        minutes: int,
        *,
        ignore: str | None = None,
    ) -> bool:
        """Some active instructor who teaches the course is free then."""
        ids = list(course_teachers) or self.repo.instructor_ids()
        people = self.repo.teachers(ids)
        return any(
            self._is_free(uid, doc, course_teachers, starts_at, minutes, user=user, ignore=ignore)
            for uid, (user, doc) in sorted(people.items())
        )

    # helpers --------------------------------------------------------------------------------
    def _authorize(self, rule: Rule, booking: Booking | None) -> None:
        if not parties_of(self.caller, booking) & rule.parties:
            raise Forbidden("Your role may not do this to this booking.")

    @staticmethod
    def _check_instructor(user: User | None, field: str) -> None:
        if user is None:
            raise NotFound("instructor")
        if user.role is not Role.instructor or not user.active:
            raise _invalid(field, "must be an active instructor of this tenant")


def _unavailable() -> InstructorUnavailable:
    return InstructorUnavailable("The instructor is not free at that time.")


def _check_grid(starts_at: datetime, duration_minutes: int) -> None:
    """Sessions start on the quarter hour (no seconds) and last whole quarter hours."""
    if not on_grid(starts_at):
        raise _invalid(
            "starts_at", "must be on the 15-minute grid (:00, :15, :30, :45), no seconds"
        )
    if duration_minutes % GRID_MINUTES:
        raise _invalid("duration_minutes", f"must be a multiple of {GRID_MINUTES}")


def _escalate_at(minutes: int | None, now: datetime) -> datetime:
    if minutes is None:  # pragma: no cover - every tenant item has the setting
        minutes = get_settings().default_escalate_after_minutes
    return now + timedelta(minutes=minutes)
