"""The waiting-to-start queue across all tenants: the sparse ``expiry`` index of booking items.

A booking in ``requested`` / ``approved`` carries ``expiry_pk`` = ``EXPIRY#BOOKING#<shard 0..7>``
and ``expiry_sk`` = ``<starts_at>#<tid>#<bid>``; any other state removes both. The finder reads
only the bookings whose start has passed (one Query per shard, no Scan); the consumer expires
each with one conditional write.

Why not the ``due`` index: a booking's place there is its escalate-at, and escalating removes it;
a booking has to be found at its start whether or not it was escalated, and an item has one
place per index. A second sparse index keeps the two deadlines independent.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.clock import iso
from chalicelib.context import Actor
from chalicelib.db import keys
from chalicelib.db.base import stamp_actions
from chalicelib.db.booking_items import BookingItem, parse_time
from chalicelib.db.work_queues import EXPIRY, read_due, update_if
from chalicelib.models.bookings import EXPIRES_FROM, BookingStatus, StartedBooking


class ExpiryQueue:
    """``services.expiry.Expiries`` on the main table."""

    def started(self, now: datetime, limit: int) -> list[StartedBooking]:
        """Bookings still waiting although their start is at or before ``now``, earliest first,
        at most ``limit``.

        One Query per shard of the sparse ``expiry`` index with ``expiry_sk < <now>$``: it only
        ever reads waiting bookings that have started, however many bookings there are. A
        booking whose start was moved later by a writer that did not move its index keys
        (``booking_items.expiry_key``) is read but not queued until its real start passes.
        """

        def take(item: BookingItem) -> StartedBooking | None:
            if not item.expiry_sk:
                return None  # pragma: no cover - the index holds only items with the key
            if parse_time(item.starts_at) > now:
                return None  # moved later: its index place is stale, its start is to come
            _, tenant_id, booking_id = keys.parse_booking_due_sk(item.expiry_sk)
            return StartedBooking(
                tenant_id=tenant_id,
                booking_id=booking_id,
                student_id=item.student_id,
                status=item.status,
                starts_at=parse_time(item.starts_at),
            )

        return read_due(EXPIRY, now=now, limit=limit, take=take, when=lambda b: b.starts_at)

    def expire(
        self,
        tenant_id: str,
        booking_id: str,
        *,
        student_id: str,
        status: str,
        now: datetime,
        actor: Actor,
    ) -> bool:
        """ONE conditional UpdateItem: ``expired`` if still in ``status``, still on the expiry
        index and started by ``now``.

        Not conditional on the version: the waiting states cannot be re-entered, and a new time
        fails ``starts_at <= now``, so what else bumps the version meanwhile (an escalation, found
        by the other finder in the same minute) must not make the expiry wait for the next run.

        Leaves both work queues (expiry and escalation), moves the status list indexes and
        stamps the write; the version rises by one. False when the booking moved on meanwhile
        (approved, cancelled, rescheduled, already expired): nothing is written.
        """
        if status not in EXPIRES_FROM:
            return False
        try:
            status_pk = keys.bookings_index_pk(tenant_id, BookingStatus.expired.value)
            student_pk = keys.student_bookings_pk(
                tenant_id, student_id, BookingStatus.expired.value
            )
        except ValueError:
            return False
        actions = [
            *stamp_actions(actor),
            BookingItem.status.set(BookingStatus.expired.value),
            BookingItem.gsi4pk.set(status_pk),
            BookingItem.gsi5pk.set(student_pk),
            BookingItem.expiry_pk.remove(),
            BookingItem.expiry_sk.remove(),
            BookingItem.due_pk.remove(),
            BookingItem.due_sk.remove(),
        ]
        condition = (
            (BookingItem.status == status)
            & (BookingItem.student_id == student_id)
            & BookingItem.expiry_pk.exists()
            & (BookingItem.starts_at <= iso(now))
        )
        return update_if(tenant_id, booking_id, actions, condition)
