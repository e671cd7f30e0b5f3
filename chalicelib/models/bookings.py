"""Booking schemas: the request bodies, the list query and the Booking resource."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field, StringConstraints

from chalicelib.models.common import Id, ListQuery, Out, StrictModel


class BookingStatus(StrEnum):
    requested = "requested"
    approved = "approved"
    assigned = "assigned"
    completed = "completed"
    rejected = "rejected"
    cancelled = "cancelled"


#: States a booking waits in for an admin (escalated when it waits too long).
WAITING_STATES = frozenset({BookingStatus.requested, BookingStatus.approved})

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
Duration = Annotated[int, Field(ge=15, le=240)]


class Booking(Out):
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

    course_id: Id
    starts_at: AwareDatetime = Field(description="Timezone-aware, in the future.")
    duration_minutes: Duration
    instructor_id: Id | None = Field(default=None, description="A preferred active instructor.")
    note: Note = ""


class AssignIn(StrictModel):
    instructor_id: Id


class RejectIn(StrictModel):
    reason: Reason


class CancelIn(StrictModel):
    reason: Reason | None = None


class BookingListQuery(ListQuery):
    status: BookingStatus | None = None
