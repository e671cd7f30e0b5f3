"""Notifications: which changes email whom (docs/architecture.md), and sending each once.

Two steps, each behind its own function:

* :func:`notifications_for` (the stream's ``dispatch_events``): a booking or user change
  becomes at most a few :class:`NotificationMessage` s on the notifications queue. Their ids
  derive from the stream record, so a replayed record yields the same ids.
* :class:`NotificationService` (the queue's ``send_notifications``): resolves the recipients
  and the names the email mentions, renders it, and sends one email per recipient through a
  mailer that sends each ``(notification id, recipient)`` at most once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

from chalicelib.auth import links
from chalicelib.config import get_settings
from chalicelib.models.audit import AuditAction, EntityType
from chalicelib.models.bookings import BookingStatus
from chalicelib.models.messages import (
    Change,
    Found,
    NotificationKind,
    NotificationMessage,
    OutgoingEmail,
    Recipient,
)
from chalicelib.notify.invites import invites_for_notification
from chalicelib.notify.templates import EmailContext, render

_STATUS_KINDS: dict[str, NotificationKind] = {
    BookingStatus.approved: NotificationKind.booking_approved,
    BookingStatus.assigned: NotificationKind.booking_assigned,
    BookingStatus.completed: NotificationKind.booking_completed,
    BookingStatus.rejected: NotificationKind.booking_rejected,
    BookingStatus.cancelled: NotificationKind.booking_cancelled,
    BookingStatus.expired: NotificationKind.booking_expired,
}

#: What a reschedule changes: a booking's time (its status stays as it is).
_TIME_FIELDS = ("starts_at", "duration_minutes")


#: The main table's ``type`` of a link item (invitation, password reset): never audited.
LINK_ENTITY = "account_link"
_LINK_PAGES = {
    NotificationKind.user_invited: "accept-invite",
    NotificationKind.password_reset_requested: "reset-password",
}
#: Account emails that show a time (so they need the recipient's zone).
_TIMED_ACCOUNT_KINDS = frozenset({NotificationKind.password_changed})
_ACCOUNT_KINDS = frozenset(
    {
        NotificationKind.user_welcome,
        NotificationKind.user_invited,
        NotificationKind.password_reset_requested,
        NotificationKind.password_changed,
    }
)


def notification_id(event_id: str, kind: NotificationKind) -> str:
    return hashlib.sha256(f"{event_id}:{kind.value}".encode()).hexdigest()[:32]


def reminder_id(tenant_id: str, booking_id: str, starts_at: str) -> str:
    """A reminder's id names the session and the start it is for, not the stream record: each
    participant gets one reminder per session and start, however often it is armed or found."""
    key = f"{tenant_id}:{booking_id}:{starts_at}:{NotificationKind.booking_reminder.value}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _kinds(change: Change) -> list[NotificationKind]:
    before, after = change.before or {}, change.after or {}
    if change.entity_type == EntityType.booking:
        if change.action is AuditAction.created:
            requested = after.get("status") == BookingStatus.requested
            return [NotificationKind.booking_requested] if requested else []
        if change.action is not AuditAction.updated:
            return []
        kinds = []
        status = after.get("status")
        if status != before.get("status") and status in _STATUS_KINDS:
            kinds.append(_STATUS_KINDS[status])
        if after.get("escalated_at") and after.get("escalated_at") != before.get("escalated_at"):
            kinds.append(NotificationKind.booking_escalated)
        if status == before.get("status") and any(
            after.get(f) != before.get(f) for f in _TIME_FIELDS
        ):
            kinds.append(NotificationKind.booking_rescheduled)
        reminded = after.get("reminded_for")
        if (
            status == BookingStatus.assigned
            and reminded
            and reminded != before.get("reminded_for")
            and reminded == after.get("starts_at")
        ):
            kinds.append(NotificationKind.booking_reminder)
        return kinds
    return _account_kinds(change)


def _account_kinds(change: Change) -> list[NotificationKind]:
    before, after = change.before or {}, change.after or {}
    # A link (invitation or password reset) was made: its item's INSERT emails it.
    if change.entity_type == LINK_ENTITY and change.action is AuditAction.created:
        purpose = after.get("purpose")
        if purpose == "invite":
            return [NotificationKind.user_invited]
        if purpose == "reset":
            return [NotificationKind.password_reset_requested]
        return []
    if (
        change.entity_type == EntityType.user
        and change.action is AuditAction.updated
        and after.get("pw_changed_at")
        and after.get("pw_changed_at") != before.get("pw_changed_at")
    ):
        return [NotificationKind.password_changed]
    # A user created by an admin (sign-up creates the first admin as its own actor: no welcome;
    # an invited user gets the invitation instead).
    if (
        change.entity_type == EntityType.user
        and change.action is AuditAction.created
        and change.actor_id
        and change.actor_id != change.entity_id
        and not after.get("invitation_pending")
    ):
        return [NotificationKind.user_welcome]
    return []


def notifications_for(change: Change) -> list[NotificationMessage]:
    """The notifications a change causes (none for most changes)."""
    if not change.tenant_id or not change.entity_id or change.after is None:
        return []
    return [
        NotificationMessage(
            id=(
                reminder_id(change.tenant_id, change.entity_id, str(change.after["reminded_for"]))
                if kind is NotificationKind.booking_reminder
                else notification_id(change.event_id, kind)
            ),
            kind=kind,
            tenant_id=change.tenant_id,
            entity_id=change.entity_id,
            correlation_id=change.correlation_id,
            actor_id=change.actor_id,
            entity=change.after,
            previous=change.before,
        )
        for kind in _kinds(change)
    ]


class Directory(Protocol):
    """Who people are and what a course is called, one tenant at a time
    (``db.directory.DynamoDirectory``; a fake in unit tests)."""

    def lookup(self, tenant_id: str, user_ids: list[str], course_id: str | None) -> Found:
        """The people, the course's title and the tenant's time zone: one read."""
        ...

    def active_admins(self, tenant_id: str) -> list[Recipient]: ...


class Mailer(Protocol):
    """``notify.ses.OnceMailer``; a fake in unit tests."""

    def send_once(self, email: OutgoingEmail) -> bool:
        """Send unless an email with this key was sent before; True when sent now."""
        ...


@dataclass
class Delivery:
    notification_id: str
    sent: int
    repeated: int
    recipients: int


class UnknownRecipient(LookupError):
    """A notification names a person or booking that does not exist (a poison message)."""


class NotificationService:
    def __init__(self, directory: Directory, mailer: Mailer) -> None:
        self.directory = directory
        self.mailer = mailer

    def deliver(self, message: NotificationMessage) -> Delivery:
        emails = self.render(message)
        sent = sum(1 for email in emails if self.mailer.send_once(email))
        return Delivery(message.id, sent, len(emails) - sent, len(emails))

    def render(self, message: NotificationMessage) -> list[OutgoingEmail]:
        """One email per recipient, every time in it in the recipient's zone (theirs, else the
        tenant's, which comes with the people in the same read)."""
        entity, previous = message.entity, message.previous or {}
        link: str | None = None
        found: Found
        if message.kind in _LINK_PAGES:
            # A link item: the user it is for, who sent it, and the link (its token derived
            # again from the item's seed: the token itself was never stored or queued).
            user_id = _required(entity, "id")
            wanted = [user_id]
            if message.actor_id and message.actor_id != user_id:
                wanted.append(message.actor_id)
            found = self.directory.lookup(message.tenant_id, wanted, None)
            if user_id not in found.people:
                raise UnknownRecipient(f"user {user_id} of a link")
            recipients = [found.people[user_id]]
            link = _link_url(message, _LINK_PAGES[message.kind])
        elif message.kind in _ACCOUNT_KINDS:
            person = _recipient(entity)
            actor = message.actor_id if message.actor_id != person.user_id else None
            if actor or (message.kind in _TIMED_ACCOUNT_KINDS and not person.time_zone):
                # Who did it, and the tenant's zone, in one read (none for a welcome, which
                # shows no time, or when the user has a zone of their own and acted alone).
                found = self.directory.lookup(message.tenant_id, [actor] if actor else [], None)
            else:
                found = Found(people={})
            found = found.model_copy(update={"people": {**found.people, person.user_id: person}})
            recipients = [person]
        else:
            student_id = _required(entity, "student_id")
            instructor_id = entity.get("instructor_id") or previous.get("instructor_id")
            wanted = [i for i in (student_id, instructor_id) if i]
            if message.actor_id and message.actor_id not in wanted:
                wanted.append(message.actor_id)
            found = self.directory.lookup(message.tenant_id, wanted, entity.get("course_id"))
            if student_id not in found.people:
                raise UnknownRecipient(f"student {student_id} of booking {message.entity_id}")
            recipients = self._booking_recipients(message, found.people, student_id, instructor_id)
        people = found.people
        context = EmailContext(
            kind=message.kind,
            entity=entity,
            people=people,
            course_title=found.course_title,
            actor=people.get(message.actor_id or ""),
            link=link,
            time_zone=found.time_zone,
            previous=message.previous,
        )
        attachments = invites_for_notification(
            message, people, organizer=get_settings().email_sender, course_title=found.course_title
        )
        emails = []
        for person in recipients:
            subject, text, html = render(context, person)
            emails.append(
                OutgoingEmail(
                    key=f"{message.id}:{person.user_id}",
                    tenant_id=message.tenant_id,
                    to=person.email,
                    subject=subject,
                    text=text,
                    html=html,
                    attachments=attachments,
                )
            )
        return emails

    def _booking_recipients(
        self,
        message: NotificationMessage,
        people: dict[str, Recipient],
        student_id: str,
        instructor_id: str | None,
    ) -> list[Recipient]:
        kind = message.kind
        student = people[student_id]
        instructor = people.get(instructor_id) if instructor_id else None
        if kind is NotificationKind.booking_escalated:
            return self.directory.active_admins(message.tenant_id)
        if kind in (
            NotificationKind.booking_assigned,
            NotificationKind.booking_rejected,
            NotificationKind.booking_cancelled,
            NotificationKind.booking_reminder,
        ):
            return [student, instructor] if instructor else [student]
        if kind is NotificationKind.booking_rescheduled:  # the instructor assigned now, if any
            current = message.entity.get("instructor_id")
            teacher = people.get(current) if isinstance(current, str) and current else None
            return [student, teacher] if teacher else [student]
        return [student]


def _required(entity: dict[str, Any], name: str) -> str:
    value = entity.get(name)
    if not isinstance(value, str) or not value:
        raise UnknownRecipient(f"the notification's entity has no {name}")
    return value


def _recipient(user: dict[str, Any]) -> Recipient:
    zone = user.get("time_zone")
    return Recipient(
        user_id=_required(user, "id"),
        name=str(user.get("name") or ""),
        email=_required(user, "email"),
        time_zone=zone if isinstance(zone, str) and zone else None,
    )


def _link_url(message: NotificationMessage, page: str) -> str:
    """``{APP_URL}/<page>?tenant=<slug>&token=<token>``."""
    entity = message.entity
    token = links.link_token(message.tenant_id, _required(entity, "seed"))
    query = urlencode({"tenant": _required(entity, "tenant_slug"), "token": token})
    return f"{get_settings().app_url}/{page}?{query}"
