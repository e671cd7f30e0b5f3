"""Calendar invites and feeds (RFC 5545), built with the ``icalendar`` library.

Pure: no AWS, no clock. A session is one ``VEVENT`` whose ``UID`` is the booking's own
(``booking-<id>@tutorbook``), the same in every invite and in every feed across the booking's
life, and whose ``SEQUENCE`` is the booking's ``version``, which rises with each change: a
calendar app replaces its copy when a newer one arrives (``METHOD:REQUEST``) and removes it on
``METHOD:CANCEL``. Times are written in UTC (``...Z``); the email's text shows the recipient's.

``icalendar`` is imported on first use: only the functions that send email or serve a feed
need it, never a cold start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from chalicelib.models.bookings import Booking, BookingStatus
from chalicelib.models.messages import (
    Attachment,
    NotificationKind,
    NotificationMessage,
    Recipient,
)

if TYPE_CHECKING:
    from icalendar import Event

PRODID = "-//tutorbook//sessions//EN"
UID_DOMAIN = "tutorbook"
FILENAME = "invite.ics"
DEFAULT_SUMMARY = "Tutoring session"


class InviteMethod(StrEnum):
    """What an invite asks a calendar app to do with the session."""

    request = "REQUEST"  # add it, or replace the copy with a lower SEQUENCE
    cancel = "CANCEL"  # remove it


def booking_uid(booking_id: str) -> str:
    """The session's one ``UID``, stable across its invites and feeds."""
    return f"booking-{booking_id}@{UID_DOMAIN}"


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _event(
    booking: Booking,
    *,
    summary: str,
    cancelled: bool,
    organizer: str | None = None,
    attendees: Sequence[Recipient] = (),
) -> Event:
    from icalendar import Event, vCalAddress

    event = Event()
    event.add("uid", booking_uid(booking.id))
    event.add("sequence", booking.version)
    # When this version of the session was made: the same text every time it is rendered.
    event.add("dtstamp", _utc(booking.updated_at))
    event.add("dtstart", _utc(booking.starts_at))
    event.add("dtend", _utc(booking.starts_at + timedelta(minutes=booking.duration_minutes)))
    event.add("summary", summary)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if organizer:
        address = vCalAddress(f"mailto:{organizer}")
        address.params["cn"] = "tutorbook"
        event.add("organizer", address)
    for person in attendees:
        attendee = vCalAddress(f"mailto:{person.email}")
        if person.name:
            attendee.params["cn"] = person.name
        attendee.params["role"] = "REQ-PARTICIPANT"
        attendee.params["partstat"] = "ACCEPTED"
        event.add("attendee", attendee)
    return event


def _calendar(method: InviteMethod | None = None, name: str | None = None) -> Any:
    from icalendar import Calendar

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if method is not None:
        calendar.add("method", method.value)
    if name:
        calendar.add("x-wr-calname", name)
    return calendar


def invite_for(
    booking: Booking,
    *,
    method: InviteMethod,
    organizer: str,
    attendees: Sequence[Recipient],
    summary: str | None = None,
) -> Attachment:
    """The ``invite.ics`` an email about ``booking`` carries: ``REQUEST`` when it is assigned or
    moved (the booking as it is after the change, so its ``version`` is the new ``SEQUENCE``),
    ``CANCEL`` when it ends. ``organizer`` is the sender's address (``Name <addr>`` is fine);
    ``attendees`` are the participants."""
    sender = parseaddr(organizer)[1] or organizer
    calendar = _calendar(method)
    calendar.add_component(
        _event(
            booking,
            summary=summary or DEFAULT_SUMMARY,
            cancelled=method is InviteMethod.cancel,
            organizer=sender,
            attendees=attendees,
        )
    )
    return Attachment(
        filename=FILENAME,
        content_type=f"text/calendar; method={method.value}; charset=UTF-8",
        text=calendar.to_ical().decode("utf-8"),
    )


def feed_text(bookings: Sequence[Booking], *, name: str) -> str:
    """A subscribed calendar (no ``METHOD``): one event per session, earliest first."""
    calendar = _calendar(name=name)
    for booking in sorted(bookings, key=lambda b: (b.starts_at, b.id)):
        cancelled = booking.status is BookingStatus.cancelled
        calendar.add_component(_event(booking, summary=DEFAULT_SUMMARY, cancelled=cancelled))
    return str(calendar.to_ical().decode("utf-8"))


# --- the booking emails that carry an invite ---------------------------------------------------
def invites_for_notification(
    message: NotificationMessage,
    people: Mapping[str, Recipient],
    *,
    organizer: str,
    course_title: str | None = None,
) -> tuple[Attachment, ...]:
    """The invite a booking email carries: ``REQUEST`` with the assigned email and with the
    rescheduled email of an assigned booking (same UID, higher SEQUENCE: the calendar moves the
    session), ``CANCEL`` with the cancelled email of a booking that was assigned (one that never
    was is in nobody's calendar). Other emails carry none, nor does one whose booking image
    lacks the session's fields (the email itself still goes)."""
    previous = message.previous or {}
    if message.kind is NotificationKind.booking_assigned or (
        message.kind is NotificationKind.booking_rescheduled
        and message.entity.get("status") == BookingStatus.assigned.value
    ):
        method = InviteMethod.request
    elif (
        message.kind is NotificationKind.booking_cancelled
        and previous.get("status") == BookingStatus.assigned.value
    ):
        method = InviteMethod.cancel
    else:
        return ()
    try:
        booking = Booking.model_validate(message.entity)
    except ValidationError:  # an image without the session's times: the email goes without
        return ()
    instructor_id = booking.instructor_id or previous.get("instructor_id")
    attendees = [people[i] for i in (booking.student_id, instructor_id) if i and i in people]
    return (
        invite_for(
            booking,
            method=method,
            organizer=organizer,
            attendees=attendees,
            summary=course_title,
        ),
    )
