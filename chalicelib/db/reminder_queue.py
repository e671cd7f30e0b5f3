"""The reminders to send across all tenants: the sparse ``reminder`` index of booking items.

An ``assigned`` booking of a tenant that sends reminders carries ``remind_pk`` =
``REMIND#BOOKING#<shard 0..7>`` and ``remind_sk`` = ``<remind-at>#<tid>#<bid>`` (remind-at =
start minus the lead it was assigned with) until its reminder goes out; a reschedule sets them
again for the new start, leaving ``assigned`` removes them. The finder reads only what is due
(one Query per shard, no Scan); the consumer marks each reminded with one conditional write.

Why not the ``expiry`` index: only waiting bookings are there, and a booking has one place
per index; a reminder's time is its own (start minus the lead), so it gets its own index.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.clock import iso
from chalicelib.context import Actor
from chalicelib.db import keys
from chalicelib.db.base import stamp_actions
from chalicelib.db.booking_items import BookingItem, parse_time
from chalicelib.db.work_queues import REMINDERS, read_due, update_if
from chalicelib.models.bookings import BookingStatus, DueReminder, ReminderOutcome


class ReminderQueue:
    """``services.reminders.Reminders`` on the main table."""

    def due(self, now: datetime, limit: int) -> list[DueReminder]:
        """Sessions whose reminder is due at or before ``now``, earliest first, at most
        ``limit``: one Query per shard of the sparse ``reminder`` index, reading only those."""

        def take(item: BookingItem) -> DueReminder | None:
            if not item.remind_sk:
                return None  # pragma: no cover - the index holds only items with the key
            remind_at, tenant_id, booking_id = keys.parse_booking_due_sk(item.remind_sk)
            return DueReminder(
                tenant_id=tenant_id,
                booking_id=booking_id,
                starts_at=parse_time(item.starts_at),
                remind_at=parse_time(remind_at),
            )

        return read_due(REMINDERS, now=now, limit=limit, take=take, when=lambda r: r.remind_at)

    def remind(
        self,
        tenant_id: str,
        booking_id: str,
        *,
        starts_at: datetime,
        now: datetime,
        actor: Actor,
    ) -> ReminderOutcome:
        """ONE conditional UpdateItem: if the booking is still ``assigned``, still armed and
        still starts at ``starts_at``, it leaves the reminder index and ``reminded_for`` becomes
        that start (the stream turns this into the participants' emails). A session that has
        already started is only taken off the index (``missed``: a reminder after the start
        helps nobody). Anything else (already reminded, moved, cancelled, completed): nothing is
        written (``skipped``). The version rises by one with each write.
        """
        started = starts_at <= now
        actions = [
            *stamp_actions(actor),
            BookingItem.remind_pk.remove(),
            BookingItem.remind_sk.remove(),
        ]
        if not started:
            actions.append(BookingItem.reminded_for.set(iso(starts_at)))
        condition = (
            (BookingItem.status == BookingStatus.assigned.value)
            & BookingItem.remind_pk.exists()
            & (BookingItem.starts_at == iso(starts_at))
        )
        if not update_if(tenant_id, booking_id, actions, condition):
            return ReminderOutcome.skipped
        return ReminderOutcome.missed if started else ReminderOutcome.sent
