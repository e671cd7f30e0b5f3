"""The escalation work queue, as the escalation service sees it (the bookings' ``due`` index)."""

from __future__ import annotations

from datetime import datetime

from chalicelib.context import Actor
from chalicelib.db.bookings import BookingRepository, DueBooking, due_for_escalation


class DynamoEscalations:
    def due(self, now: datetime, limit: int) -> list[DueBooking]:
        """Waiting bookings past their escalate-at (Queries on the sparse index; no Scan)."""
        return due_for_escalation(now, limit=limit)

    def mark(
        self, tenant_id: str, booking_id: str, status: str, now: datetime, actor: Actor
    ) -> bool:
        """One conditional update; False when already escalated in this state or moved on."""
        return (
            BookingRepository(tenant_id, actor).mark_escalated(booking_id, status, now) is not None
        )
