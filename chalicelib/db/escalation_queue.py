"""The waiting-bookings queue across all tenants: the sparse ``due`` index of booking items.

A booking in ``requested`` / ``approved`` that has not been escalated in that state carries
``due_pk`` = ``DUE#BOOKING#<shard 0..7>`` and ``due_sk`` = ``<escalate-at>#<tid>#<bid>``; leaving
the state or being escalated removes both. The finder reads only what is due (one Query per
shard, no Scan); the consumer escalates with one conditional write.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.clock import iso
from chalicelib.context import Actor
from chalicelib.db import keys
from chalicelib.db.base import stamp_actions
from chalicelib.db.booking_items import BookingItem, parse_time
from chalicelib.db.work_queues import DUE, read_due, update_if
from chalicelib.models.bookings import DueBooking


class EscalationQueue:
    """``services.escalation.Escalations`` on the main table."""

    def due(self, now: datetime, limit: int) -> list[DueBooking]:
        """Bookings waiting past their escalate-at, oldest first, at most ``limit``.

        One Query per shard of the sparse ``due`` index with ``due_sk < <now>$`` (no Scan): it only
        ever reads waiting bookings that are already due.
        """

        def take(item: BookingItem) -> DueBooking | None:
            if not item.due_sk:
                return None  # pragma: no cover - the index holds only items with the key
            due_at, tenant_id, booking_id = keys.parse_booking_due_sk(item.due_sk)
            return DueBooking(
                tenant_id=tenant_id,
                booking_id=booking_id,
                status=item.status,
                due_at=parse_time(due_at),
            )

        return read_due(DUE, now=now, limit=limit, take=take, when=lambda d: d.due_at)

    def mark(
        self, tenant_id: str, booking_id: str, status: str, now: datetime, actor: Actor
    ) -> bool:
        """ONE conditional UpdateItem: escalate if still in ``status`` and still on the queue.

        Sets ``escalated_at``, leaves the queue and stamps the write; the VersionAttribute bumps
        the version. False when it was already escalated in this state or has moved on.
        """
        actions = [
            *stamp_actions(actor),
            BookingItem.escalated_at.set(iso(now)),
            BookingItem.due_pk.remove(),
            BookingItem.due_sk.remove(),
        ]
        condition = (BookingItem.status == status) & BookingItem.due_pk.exists()
        return update_if(tenant_id, booking_id, actions, condition)
