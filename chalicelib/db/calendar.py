"""Bookings by start time: the calendar view and the calendar feed's read.

Each read is ONE Query on a sparse by-start index of ``db/booking_items.py`` (partition = one
list view: the tenant's, a student's or an instructor's bookings, optionally of one status; sort
key ``start_sk`` = ``<starts_at>#<id>``), bounded to the range, so bookings outside the range
are never read and the cost does not grow with them.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.clock import iso
from chalicelib.db.booking_items import BookingItem, booking_from_item
from chalicelib.db.booking_views import view
from chalicelib.db.pages import decode_cursor, encode_cursor
from chalicelib.models.bookings import Booking, BookingStatus
from chalicelib.models.common import Page

#: The most sessions one feed lists (one Query: DynamoDB answers at most 1 MB per request).
FEED_MAX_ITEMS = 500


class CalendarRepository:
    """Bookings of one tenant, by start."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id

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
    ) -> Page[Booking]:
        """The bookings of one view that start in ``[start, end)``, earliest first: ONE Query
        per page. The cursor is bound to the view and the range."""
        tid = self.tenant_id
        v = view(tid, student_id=student_id, instructor_id=instructor_id, status=status)
        low, high = iso(start), iso(end)
        scope = f"calendar:{v.scope}:{low}:{high}"
        results = v.index("by_start").query(
            v.pk,
            # ``<end>#<id>`` sorts after ``<end>``: a booking starting at ``end`` is left out.
            range_key_condition=BookingItem.start_sk.between(low, high),
            limit=limit,
            last_evaluated_key=decode_cursor(cursor, tenant_id=tid, scope=scope),
        )
        items = [booking_from_item(i) for i in results if isinstance(i, BookingItem)]
        return Page[Booking](
            items=[b for b in items if start <= b.starts_at < end],
            next_cursor=encode_cursor(results.last_evaluated_key, tenant_id=tid, scope=scope),
        )

    def assigned_between(
        self, start: datetime, end: datetime, *, student_id: str | None, instructor_id: str | None
    ) -> list[Booking]:
        """A participant's assigned sessions starting in ``[start, end)`` (a calendar feed):
        ONE Query, at most :data:`FEED_MAX_ITEMS`."""
        page = self.between(
            start,
            end,
            student_id=student_id,
            instructor_id=instructor_id,
            status=BookingStatus.assigned,
            limit=FEED_MAX_ITEMS,
        )
        return page.items
