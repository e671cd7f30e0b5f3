"""The booking domain: the Booking resource and its states, request bodies, the list query, and
the rule that turns a session into the instructor-time blocks it occupies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from chalicelib.models import examples as ex
from chalicelib.models.common import JSON_INT, Id, ListQuery, Out, StrictModel, Timestamp
from chalicelib.models.scheduling import Availability, BookingSettings
from chalicelib.models.users import User


class BookingStatus(StrEnum):
    requested = "requested"
    approved = "approved"
    assigned = "assigned"
    completed = "completed"
    rejected = "rejected"
    cancelled = "cancelled"
    #: Terminal: still ``requested`` or ``approved`` when its start passed (set by the system).
    expired = "expired"


#: States a booking waits in for an admin (escalated when it waits too long).
WAITING_STATES = frozenset({BookingStatus.requested, BookingStatus.approved})

#: States a booking expires from when its start passes (the expiry finder's ``expiry`` index).
EXPIRES_FROM = WAITING_STATES

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
Duration = Annotated[int, Field(ge=15, le=240), JSON_INT]
#: A new session's length: whole quarter hours (stored bookings may predate the grid).
GridDuration = Annotated[int, Field(ge=15, le=240, multiple_of=15), JSON_INT]


class Booking(Out):
    model_config = ConfigDict(json_schema_extra={"examples": [ex.BOOKING]})

    id: str
    tenant_id: str
    student_id: str
    course_id: str
    instructor_id: str | None = None
    requested_instructor_id: str | None = None
    starts_at: datetime
    duration_minutes: int
    status: BookingStatus
    note: str = ""
    reason: str | None = None
    escalated_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    version: int


class BookingIn(StrictModel):
    """``POST /bookings``: a student asks for a session."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "course_id": ex.COURSE_ID,
                    "starts_at": ex.STARTS_AT,
                    "duration_minutes": 60,
                    "instructor_id": ex.INSTRUCTOR_ID,
                    "note": "Chapter 3, please.",
                }
            ]
        }
    )

    course_id: Id
    starts_at: Timestamp = Field(
        description="Timezone-aware, in the future, before the year 9000; answered in UTC."
    )
    duration_minutes: GridDuration
    instructor_id: Id | None = Field(default=None, description="A preferred active instructor.")
    note: Note = ""


class AssignIn(StrictModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"instructor_id": ex.INSTRUCTOR_ID}]})

    instructor_id: Id


class RejectIn(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"reason": "No instructor teaches this course on Mondays."}]
        }
    )

    reason: Reason


class CancelIn(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "I have an exam that day."}]}
    )

    reason: Reason | None = None


class BookingListQuery(ListQuery):
    status: BookingStatus | None = None
    from_: Timestamp | None = Field(
        default=None,
        alias="from",
        description="With `to`: the calendar view, bookings starting in [from, to) by start.",
    )
    to: Timestamp | None = Field(
        default=None, description="With `from`: the end of the calendar view (exclusive)."
    )

    @model_validator(mode="after")
    def _calendar_range(self) -> BookingListQuery:
        if (self.from_ is None) != (self.to is None):
            raise ValueError("from and to go together")
        if self.from_ is not None and self.to is not None:
            if self.to <= self.from_:
                raise ValueError("to must be after from")
            if self.to - self.from_ > MAX_CALENDAR_SPAN:
                raise ValueError(f"from..to may span at most {MAX_CALENDAR_SPAN.days} days")
        return self


#: The longest range the calendar view answers (a quarter, whatever its months).
MAX_CALENDAR_SPAN = timedelta(days=92)


# --- instructor time --------------------------------------------------------------------------
#: Instructor time is claimed in blocks of this many minutes, aligned to the quarter hour.
SLOT_MINUTES = 15


def slots_covering(starts_at: datetime, duration_minutes: int) -> list[str]:
    """Every 15-minute block (``yyyy-mm-ddThh:mm`` UTC) that ``[start, start+duration)`` touches.

    Blocks are aligned to the quarter hour, so two bookings that overlap in time always share
    a block (and two that merely touch a common quarter hour are treated as overlapping).
    """
    start = starts_at.astimezone(UTC).replace(second=0, microsecond=0)
    start -= timedelta(minutes=start.minute % SLOT_MINUTES)
    end = starts_at.astimezone(UTC) + timedelta(minutes=duration_minutes)
    out = []
    block = start
    while block < end:
        out.append(block.strftime("%Y-%m-%dT%H:%M"))
        block += timedelta(minutes=SLOT_MINUTES)
    return out


# --- what the booking rules read besides the booking -------------------------------------------
@dataclass(frozen=True)
class RequestContext:
    """What a new request is checked against, read together: the tenant's escalation delay, the
    course (``course_published`` is ``None`` when it does not exist) and the preferred
    instructor (``None`` when none was asked for or it does not exist)."""

    escalate_after_minutes: int | None
    course_published: bool | None
    instructor: User | None
    #: the tenant's booking-time rules, who teaches the course (empty: every active
    #: instructor) and the preferred instructor's availability
    settings: BookingSettings | None = None
    course_instructor_ids: tuple[str, ...] = ()
    availability: Availability | None = None


@dataclass(frozen=True)
class DueBooking:
    """A booking that has waited in ``status`` past its escalate-at time."""

    tenant_id: str
    booking_id: str
    status: str
    due_at: datetime


# --- moving a booking, and what assignment and reschedule are checked against -----------------
class RescheduleIn(StrictModel):
    """``POST /bookings/{id}/reschedule``: a new start (and length) for the session."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"starts_at": ex.STARTS_AT, "duration_minutes": 45}]}
    )

    starts_at: Timestamp = Field(
        description="On the 15-minute grid, after the notice period and within the horizon."
    )
    duration_minutes: GridDuration | None = Field(
        default=None, description="A multiple of 15; leaving it out keeps the current length."
    )


@dataclass(frozen=True)
class AssignContext:
    """An assignment's reads: the booking, the instructor with their availability, and who
    teaches the booking's course (empty: every active instructor)."""

    booking: Booking | None
    instructor: User | None
    availability: Availability | None
    course_instructor_ids: tuple[str, ...] = ()
    #: The tenant's ``reminder_minutes_before`` now (None: no reminders).
    reminder_minutes_before: int | None = None


@dataclass(frozen=True)
class RescheduleContext:
    """A reschedule's reads: the booking, the tenant's booking-time rules, and who teaches the
    booking's course (empty: every active instructor)."""

    booking: Booking | None
    settings: BookingSettings | None
    course_instructor_ids: tuple[str, ...] = ()
    #: The reminder lead the booking was assigned with (None: none armed).
    reminder_minutes: int | None = None


@dataclass(frozen=True)
class StartedBooking:
    """A booking still waiting in ``status`` although it started at ``starts_at``: the expiry
    finder's find."""

    tenant_id: str
    booking_id: str
    student_id: str
    status: str
    starts_at: datetime


@dataclass(frozen=True)
class DueReminder:
    """An assigned session whose reminder is due: the reminder finder's find."""

    tenant_id: str
    booking_id: str
    starts_at: datetime
    remind_at: datetime


class ReminderOutcome(StrEnum):
    """What the reminder consumer did with one due reminder."""

    sent = "sent"  # marked reminded for its start: the emails follow from the stream
    missed = "missed"  # the session had already started: disarmed, nobody emailed
    skipped = "skipped"  # already reminded, moved, cancelled or completed meanwhile: nothing
