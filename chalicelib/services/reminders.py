"""Reminders of assigned sessions.

When a booking is assigned, it is armed to be reminded of ``reminder_minutes_before`` its start
(the tenant's setting at that moment; a reschedule re-arms it for the new start with the same
lead, leaving ``assigned`` disarms it). The scheduled finder reads the reminders that are due
from the sparse index the bookings keep for it and puts one message per session on the reminder
queue. The queue's consumer marks each session reminded for its start with one conditional
write; the emails to the student and the instructor then follow from the stream, through the
notification sender that sends each (session, start, participant) at most once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from chalicelib.clock import Clock, iso, utcnow
from chalicelib.context import Actor
from chalicelib.models.bookings import DueReminder, ReminderOutcome
from chalicelib.models.messages import ReminderMessage
from chalicelib.services.escalation import Publisher


class Reminders(Protocol):
    """The reminders to send of every tenant (``db.reminder_queue.ReminderQueue``)."""

    def due(self, now: datetime, limit: int) -> Sequence[DueReminder]: ...
    def remind(
        self,
        tenant_id: str,
        booking_id: str,
        *,
        starts_at: datetime,
        now: datetime,
        actor: Actor,
    ) -> ReminderOutcome: ...


class ReminderService:
    """Runs in the scheduled finder and the queue consumer: no caller, the system acts."""

    def __init__(self, reminders: Reminders, *, clock: Clock = utcnow) -> None:
        self.reminders = reminders
        self.clock = clock

    def find_due(self, queue: Publisher, *, limit: int) -> list[ReminderMessage]:
        """Queue one message per session whose reminder is due (at most ``limit`` per run)."""
        run = f"reminder-{uuid.uuid4()}"
        messages = [
            ReminderMessage(
                tenant_id=r.tenant_id,
                booking_id=r.booking_id,
                starts_at=iso(r.starts_at),
                correlation_id=run,
            )
            for r in self.reminders.due(self.clock(), limit)
        ]
        if messages:
            queue.publish(messages)
        return messages

    def remind(self, message: ReminderMessage) -> ReminderOutcome:
        """Mark the session reminded of its start, unless it moved on or already started."""
        actor = Actor(user_id=None, correlation_id=message.correlation_id)
        return self.reminders.remind(
            message.tenant_id,
            message.booking_id,
            starts_at=datetime.fromisoformat(message.starts_at),
            now=self.clock(),
            actor=actor,
        )
