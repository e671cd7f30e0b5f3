"""Calendars: the calendar view of bookings (by start time, same visibility as the list)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from chalicelib.context import Caller
from chalicelib.models.bookings import Booking, BookingListQuery, BookingStatus
from chalicelib.models.common import Page
from chalicelib.models.users import Role


class CalendarRepo(Protocol):
    """Bookings of one tenant by start (``db.calendar.CalendarRepository``)."""

    def between(
        self,
        start: datetime,
        end: datetime,
        *,
        student_id: str | None = None,
        instructor_id: str | None = None,
        status: BookingStatus | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> Page[Booking]: ...


class CalendarService:
    def __init__(self, caller: Caller, repo: CalendarRepo) -> None:
        self.caller = caller
        self.repo = repo

    def view(self, query: BookingListQuery) -> Page[Booking]:
        """Bookings starting in ``[from, to)``, earliest first: a student's own, those assigned
        to an instructor, or all of the tenant's (admin), as the list shows them."""
        assert query.from_ is not None and query.to is not None, "the route checks the range"
        role, uid = self.caller.role, self.caller.user_id
        return self.repo.between(
            query.from_,
            query.to,
            student_id=uid if role not in (Role.admin, Role.instructor) else None,
            instructor_id=uid if role is Role.instructor else None,
            status=query.status,
            limit=query.limit,
            cursor=query.cursor,
        )
