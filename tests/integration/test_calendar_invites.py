"""Calendar invites: the assigned and cancelled emails carry ``invite.ics`` in a MIME message."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.integration.test_notifications import dispatch, send
from tests.support.bookings import World, make_world
from tests.support.eventkit import QueueTap, StreamTap, failures, sent_emails

STUDENT, INSTRUCTOR = "student@acme.example", "instructor@acme.example"


@pytest.fixture
def taps(aws: dict[str, str]) -> tuple[StreamTap, QueueTap]:
    return StreamTap(aws["MAIN_TABLE"]), QueueTap(aws["NOTIFICATIONS_QUEUE_URL"])


def deliver(client: Any, taps: tuple[StreamTap, QueueTap]) -> list[dict[str, Any]]:
    """Run the stream and the queue as Lambda would; the emails this sent."""
    stream, queue = taps
    before = len(sent_emails())
    dispatch(client, stream)
    assert failures(send(client, queue.records())) == []
    return sent_emails()[before:]


def invite(email: dict[str, Any]) -> Any:
    """The email's invite, parsed back with icalendar (the calendar and its one event)."""
    from icalendar import Calendar

    text = email["attachments"]["invite.ics"]
    calendar = Calendar.from_ical(text)
    [event] = calendar.walk("VEVENT")
    return calendar, event


def _utc(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture
def world(api: Any, client: Any, taps: tuple[StreamTap, QueueTap]) -> World:
    w = make_world(api, "acme")
    deliver(client, taps)  # the people's own emails, out of the way
    return w


def test_assigned_and_cancelled_emails_carry_one_session_in_every_calendar(client, taps, world):
    booking = world.booking_in("assigned")
    emails = deliver(client, taps)
    assigned = [e for e in emails if e["subject"].startswith("A booking was assigned")]
    assert sorted(e["to"][0] for e in assigned) == [INSTRUCTOR, STUDENT]
    for email in assigned:
        # one MIME message: text and HTML as alternatives, and the attachment
        mime = email["mime"]
        assert mime.get_content_type() == "multipart/mixed"
        [alternative, attachment] = mime.get_payload()
        assert alternative.get_content_type() == "multipart/alternative"
        kinds = [p.get_content_type() for p in alternative.get_payload()]
        assert kinds == ["text/plain", "text/html"]
        assert "Algebra" in alternative.get_payload()[0].get_content()
        assert attachment.get_content_type() == "text/calendar"
        assert attachment.get_param("method") == "REQUEST"
        assert attachment.get_filename() == "invite.ics"
        calendar, event = invite(email)
        assert str(calendar["METHOD"]) == "REQUEST"
        assert str(event["UID"]) == f"booking-{booking['id']}@tutorbook"
        assert int(event["SEQUENCE"]) == booking["version"]
        start = _utc(booking["starts_at"])
        assert event.decoded("DTSTART") == start
        assert event.decoded("DTEND") == start + timedelta(minutes=booking["duration_minutes"])
        assert event["DTSTART"].to_ical().decode().endswith("Z")
        assert str(event["ORGANIZER"]) == "mailto:no-reply@tutorbook.example"
        attendees = sorted(str(a) for a in event["ATTENDEE"])
        assert attendees == [f"mailto:{INSTRUCTOR}", f"mailto:{STUDENT}"]
        assert str(event["SUMMARY"]) == "Algebra"
    first = invite(assigned[0])[1]

    r = world.act("admin", booking["id"], "cancel", {"reason": "Instructor is ill"})
    assert r.status == 200, r.body
    emails = deliver(client, taps)
    cancelled = [e for e in emails if e["subject"].startswith("A booking was cancelled")]
    assert sorted(e["to"][0] for e in cancelled) == [INSTRUCTOR, STUDENT]
    for email in cancelled:
        calendar, event = invite(email)
        assert str(calendar["METHOD"]) == "CANCEL"
        assert email["mime"].get_payload()[1].get_param("method") == "CANCEL"
        assert str(event["UID"]) == str(first["UID"])  # the same session
        assert int(event["SEQUENCE"]) > int(first["SEQUENCE"])  # a newer version of it
        assert str(event["STATUS"]) == "CANCELLED"


def test_emails_about_sessions_in_nobodys_calendar_carry_no_invite(client, taps, world):
    world.booking_in("rejected")
    world.booking_in("completed")
    b = world.booking_in("approved")
    assert world.act("student", b["id"], "cancel", {}).status == 200  # never assigned
    emails = deliver(client, taps)
    with_invites = [e["subject"].split(":")[0] for e in emails if e["attachments"]]
    assert with_invites == ["A booking was assigned"] * 2  # the completed one's assignment
    assert any(e["subject"].startswith("A booking was cancelled") for e in emails)


def test_a_course_title_with_line_breaks_keeps_every_subject_on_one_line(client, taps, world):
    """A title is the course owner's text: its line breaks may not end the Subject header
    (nor add one), and the email that carries an invite still goes."""
    title = "Algebra\r\nBcc: attacker@evil.example"
    r = world.api.patch(f"/courses/{world.course}", {"title": title}, token=world.token("admin"))
    assert r.status == 200, r.body
    world.booking_in("assigned")
    emails = deliver(client, taps)
    subjects = [e["subject"] for e in emails]
    assert any(s.startswith("A booking was assigned: Algebra Bcc: attacker") for s in subjects)
    assert not [s for s in subjects if "\r" in s or "\n" in s]
    for email in emails:
        assert "attacker@evil.example" not in email["to"]
        if "mime" in email:
            assert email["mime"]["Bcc"] is None
