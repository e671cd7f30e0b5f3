"""Messages on the queues (the contract between a producer and its consumer function)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

from chalicelib.models.audit import AuditAction

Key = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Message(BaseModel):
    """Queue messages are strict: an unknown shape is a poison message, not a guess."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class NotificationKind(StrEnum):
    booking_requested = "booking_requested"
    booking_approved = "booking_approved"
    booking_assigned = "booking_assigned"
    booking_completed = "booking_completed"
    booking_rejected = "booking_rejected"
    booking_cancelled = "booking_cancelled"
    booking_escalated = "booking_escalated"
    user_welcome = "user_welcome"
    user_invited = "user_invited"
    password_reset_requested = "password_reset_requested"
    password_changed = "password_changed"
    booking_rescheduled = "booking_rescheduled"
    booking_expired = "booking_expired"
    booking_reminder = "booking_reminder"


class NotificationMessage(Message):
    """One notification: what happened, to what, and who did it (recipients are resolved later).

    ``id`` is derived from the stream record that caused it, so a replayed record yields the
    same id and the sender's idempotency turns the repeat into a no-op.
    """

    id: Key
    kind: NotificationKind
    tenant_id: Key
    entity_id: Key
    correlation_id: str | None = None
    actor_id: str | None = None
    #: The entity as it is after the change (plain JSON, no secrets).
    entity: dict[str, Any]
    #: The entity before the change (for recipients who were involved before, e.g. on cancel).
    previous: dict[str, Any] | None = None


class EscalationMessage(Message):
    """A booking that waited too long in ``status`` (found by the scheduled finder)."""

    tenant_id: Key
    booking_id: Key
    status: Key
    due_at: str
    #: One id per finder run: the escalation's audit entry carries it.
    correlation_id: str | None = None


class ExpiryMessage(Message):
    """A booking still waiting in ``status`` after its start (found by the expiry finder)."""

    tenant_id: Key
    booking_id: Key
    student_id: Key
    status: Key
    starts_at: str
    #: One id per finder run: the expiry's audit entry carries it.
    correlation_id: str | None = None


class ReminderMessage(Message):
    """An assigned session whose reminder is due (found by the reminder finder)."""

    tenant_id: Key
    booking_id: Key
    #: The start the reminder is for: a session moved meanwhile is reminded of at its new time.
    starts_at: str
    #: One id per finder run: the reminder's audit entry carries it.
    correlation_id: str | None = None


class Change(BaseModel):
    """One change of a main-table item, as read from the stream (images are plain JSON
    without key attributes and without secrets)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    event_id: str
    sequence: str
    action: AuditAction  # the stream's INSERT / MODIFY / REMOVE, as the audit log names them
    at: str  # the record's time, ISO 8601 UTC
    entity_type: str | None = None
    entity_id: str | None = None
    tenant_id: str | None = None
    actor_id: str | None = None
    correlation_id: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    #: An update of bookkeeping attributes only (stamps, version counters, delete marks).
    bookkeeping_only: bool = False

    @property
    def is_noop(self) -> bool:
        """An update that changed nothing of the entity: bookkeeping only, or nothing at all
        (moto emits those; DynamoDB does not)."""
        return self.action is AuditAction.updated and (
            self.bookkeeping_only or self.before == self.after
        )


class Recipient(BaseModel):
    """A person an email goes to."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    user_id: str
    name: str
    email: str
    #: The person's own IANA time zone; ``None``: the tenant's is used.
    time_zone: str | None = None


class Found(BaseModel):
    """What one directory read answers: people by id, the course's title, the tenant's zone."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    people: dict[str, Recipient]
    course_title: str | None = None
    #: The tenant's IANA time zone (the zone of a recipient without one of their own).
    time_zone: str = "UTC"


class Attachment(BaseModel):
    """A file an email carries (a calendar invite): its name, MIME type and text."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    filename: str
    #: The MIME type with its parameters, e.g. ``text/calendar; method=REQUEST``.
    content_type: str
    text: str


class OutgoingEmail(BaseModel):
    """One rendered email to one recipient; ``key`` makes its sending exactly-once."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    key: str
    tenant_id: str
    to: str
    subject: str
    text: str
    html: str
    #: Files attached (an invite); an email with attachments is sent as raw MIME.
    attachments: tuple[Attachment, ...] = ()
