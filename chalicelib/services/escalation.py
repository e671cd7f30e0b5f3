"""Escalation of bookings nobody handled (API.md "Escalation").

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

from chalicelib.clock import iso
from chalicelib.context import Actor
from chalicelib.models.messages import EscalationMessage


class DueLike(Protocol):
    @property
    def tenant_id(self) -> str: ...
    @property
    def booking_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def due_at(self) -> datetime: ...


class Escalations(Protocol):
    def due(self, now: datetime, limit: int) -> Sequence[DueLike]: ...
    def mark(
        self, tenant_id: str, booking_id: str, status: str, now: datetime, actor: Actor
    ) -> bool: ...


class Publisher(Protocol):
    def publish(self, messages: Sequence[BaseModel]) -> int: ...


class EscalationService:
    def __init__(self, escalations: Escalations) -> None:
        self.escalations = escalations

    def find_stale(self, now: datetime, queue: Publisher, *, limit: int) -> list[EscalationMessage]:
        """Queue one message per due booking (at most ``limit`` per run; the rest next run)."""
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

    def escalate(self, message: EscalationMessage, now: datetime) -> bool:
        """Set ``escalated_at`` unless already escalated in this state; True when it was now."""
        actor = Actor(user_id=None, correlation_id=message.correlation_id)
        return self.escalations.mark(
            message.tenant_id, message.booking_id, message.status, now, actor
        )
