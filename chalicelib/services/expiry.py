"""Expiry of bookings nobody handled before they started.

The scheduled finder reads the bookings still ``requested`` or ``approved`` whose start has
passed, from the sparse index the bookings keep for it, and puts one message per booking on the
expiry queue. The queue's consumer moves each to ``expired`` with one conditional write (still in
the state the finder saw, still waiting, still started): a race with approve, cancel or reschedule
leaves exactly one winner, and a redelivered message changes nothing. The student's email then
follows from the stream (the status becomes ``expired``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from chalicelib.clock import Clock, iso, utcnow
from chalicelib.context import Actor
from chalicelib.models.bookings import StartedBooking
from chalicelib.models.messages import ExpiryMessage
from chalicelib.services.escalation import Publisher


class Expiries(Protocol):
    """The waiting-to-start queue of every tenant (``db.expiry_queue.ExpiryQueue``)."""

    def started(self, now: datetime, limit: int) -> Sequence[StartedBooking]: ...
    def expire(
        self,
        tenant_id: str,
        booking_id: str,
        *,
        student_id: str,
        status: str,
        now: datetime,
        actor: Actor,
    ) -> bool: ...


class ExpiryService:
    """Runs in the scheduled finder and the queue consumer: no caller, the system acts."""

    def __init__(self, expiries: Expiries, *, clock: Clock = utcnow) -> None:
        self.expiries = expiries
        self.clock = clock

    def find_started(self, queue: Publisher, *, limit: int) -> list[ExpiryMessage]:
        """Queue one message per started waiting booking (at most ``limit`` per run)."""
        now = self.clock()
        run = f"expiry-{uuid.uuid4()}"
        messages = [
            ExpiryMessage(
                tenant_id=b.tenant_id,
                booking_id=b.booking_id,
                student_id=b.student_id,
                status=b.status,
                starts_at=iso(b.starts_at),
                correlation_id=run,
            )
            for b in self.expiries.started(now, limit)
        ]
        if messages:
            queue.publish(messages)
        return messages

    def expire(self, message: ExpiryMessage) -> bool:
        """Move the booking to ``expired`` unless it moved on; True when it was expired now."""
        actor = Actor(user_id=None, correlation_id=message.correlation_id)
        return self.expiries.expire(
            message.tenant_id,
            message.booking_id,
            student_id=message.student_id,
            status=message.status,
            now=self.clock(),
            actor=actor,
        )
