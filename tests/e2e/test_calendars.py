"""Calendars on the local stack: an assigned session reaches both participants as an invite read
back from the emulated SES, shows in the calendar view and in a subscribed feed; cancelling it
drops it from the feed and sends a METHOD:CANCEL invite for the same UID."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.e2e.conftest import LocalStack
from tests.e2e.instructors import available_instructor, published_course
from tests.e2e.test_journey import call

pytestmark = pytest.mark.e2e


def feed_uids(url: str) -> set[str]:
    """The UIDs of a feed, fetched as a calendar app does (no Authorization)."""
    from icalendar import Calendar

    r = requests.get(url, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/calendar")
    return {str(e["UID"]) for e in Calendar.from_ical(r.content).walk("VEVENT")}


def invites(stack: LocalStack, title: str, method: str) -> list[tuple[str, Any]]:
    """(recipient, event) of every invite with ``method`` about the course ``title``."""
    from icalendar import Calendar

    found = []
    for m in stack.emails():
        text = (m.get("attachments") or {}).get("invite.ics")
        if not text or title not in m["subject"]:
            continue
        calendar = Calendar.from_ical(text)
        if str(calendar["METHOD"]) == method:
            [event] = calendar.walk("VEVENT")
            found.append((m["destinations"]["ToAddresses"][0], event))
    return found


def test_an_assigned_session_reaches_invites_view_and_feed_and_leaves_on_cancel(
    local_stack: LocalStack,
) -> None:
    admin = local_stack.login("admin")["access_token"]
    student = local_stack.login("student")["access_token"]
    # Its own instructor, free around the clock: the demo instructor's week stays as seeded.
    me = available_instructor(local_stack, admin)
    instructor = me["token"]
    course = published_course(local_stack, admin, me, "Calendar course")
    title = course["title"]
    starts = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    iso_start = starts.isoformat().replace("+00:00", "Z")
    body = {"course_id": course["id"], "starts_at": iso_start, "duration_minutes": 60}
    booking, _ = call(local_stack, "POST", "/bookings", student, body)
    bid = booking["id"]
    call(local_stack, "POST", f"/bookings/{bid}/approve", admin)
    assigned, _ = call(
        local_stack, "POST", f"/bookings/{bid}/assign", admin, {"instructor_id": me["id"]}
    )
    uid = f"booking-{bid}@tutorbook"

    # The invites, read back from the emulator's SES and parsed.
    people = {local_stack.logins["student"].email, me["email"]}
    requests_sent = local_stack.wait_for(
        lambda: (found := invites(local_stack, title, "REQUEST")) and len(found) >= 2 and found,
        timeout=30,
    )
    assert requests_sent, local_stack.log_text()[-3000:]
    assert {to for to, _ in requests_sent} == people
    for _, event in requests_sent:
        assert str(event["UID"]) == uid
        assert int(event["SEQUENCE"]) == assigned["version"]
        assert event.decoded("DTSTART") == starts
    # The stack's console says an invite is attached.
    assert local_stack.wait_for(lambda: "invite.ics" in local_stack.log_text(), timeout=15)

    # The calendar view shows it.
    window = (
        f"from={(starts - timedelta(hours=1)).isoformat().replace('+00:00', 'Z')}"
        f"&to={(starts + timedelta(hours=1)).isoformat().replace('+00:00', 'Z')}"
    )
    view, _ = call(local_stack, "GET", f"/bookings?{window}", instructor)
    assert bid in [b["id"] for b in view["items"]]

    # A subscribed feed lists it; the URL points at this stack.
    feed, _ = call(local_stack, "POST", "/users/me/calendar-feed", instructor)
    assert feed["url"].startswith(local_stack.base_url + "/calendar/")
    assert uid in feed_uids(feed["url"])

    # Cancelled: gone from the feed, and a CANCEL for the same UID with a higher SEQUENCE.
    call(local_stack, "POST", f"/bookings/{bid}/cancel", admin, {"reason": "Room closed"})
    assert uid not in feed_uids(feed["url"])
    cancels = local_stack.wait_for(
        lambda: (found := invites(local_stack, title, "CANCEL")) and len(found) >= 2 and found,
        timeout=30,
    )
    assert cancels, local_stack.log_text()[-3000:]
    assert {to for to, _ in cancels} == people
    for _, event in cancels:
        assert str(event["UID"]) == uid
        assert int(event["SEQUENCE"]) > assigned["version"]
