"""Escalation of bookings nobody handled.

The scheduled finder reads the bookings that are due (waiting in ``requested`` or ``approved``
past their tenant's ``escalate_after_minutes``) from the sparse index the bookings keep for it,
and puts one message per booking on the escalation queue. The queue's consumer escalates each
with one conditional write: once per waiting state, however often it is found or delivered.
The admins' emails then follow from the stream (``escalated_at`` appears).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel

from chalicelib.clock import Clock, iso, utcnow
from chalicelib.context import Actor
from chalicelib.models.bookings import DueBooking
from chalicelib.models.messages import EscalationMessage


class Escalations(Protocol):
    """The waiting-bookings queue of every tenant (``db.escalation_queue.EscalationQueue``)."""

    def due(self, now: datetime, limit: int) -> Sequence[DueBooking]: ...
    def mark(
        self, tenant_id: str, booking_id: str, status: str, now: datetime, actor: Actor
    ) -> bool: ...


class Publisher(Protocol):
    """A queue (``notify.queues.QueuePublisher``; a fake in unit tests)."""

    def publish(self, messages: Sequence[BaseModel]) -> int: ...


class EscalationService:
    """Runs in the scheduled finder and the queue consumer: no caller, the system acts."""

    def __init__(self, escalations: Escalations, *, clock: Clock = utcnow) -> None:
        self.escalations = escalations
        self.clock = clock

    def find_stale(self, queue: Publisher, *, limit: int) -> list[EscalationMessage]:
        """Queue one message per due booking (at most ``limit`` per run; the rest next run)."""
        now = self.clock()
        run = f"escalation-{uuid.uuid4()}"
        messages = [
            EscalationMessage(
                tenant_id=d.tenant_id,
                booking_id=d.booking_id,
                status=d.status,
                due_at=iso(d.due_at),
                correlation_id=run,
            )
            for d in self.escalations.due(now, limit)
        ]
        if messages:
            queue.publish(messages)
        return messages

    def escalate(self, message: EscalationMessage) -> bool:
        """Set ``escalated_at`` unless already escalated in this state; True when it was now."""
        actor = Actor(user_id=None, correlation_id=message.correlation_id)
        return self.escalations.mark(
            message.tenant_id, message.booking_id, message.status, self.clock(), actor
        )
