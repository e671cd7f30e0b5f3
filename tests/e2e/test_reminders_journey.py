"""Reminders and calendars on the local stack, as the people of a session live them: a session
assigned for soon reminds the student and the instructor once each (and once more when it is
moved), its invite is read back from the emulated SES and parsed, a subscribed feed lists it,
and cancelling it drops it from the feed and sends a METHOD:CANCEL invite."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import LocalStack
from tests.e2e.instructors import available_instructor, published_course
from tests.e2e.test_calendars import feed_uids, invites
from tests.e2e.test_journey import call

pytestmark = pytest.mark.e2e


def z(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def reminders(stack: LocalStack, title: str) -> dict[str, int]:
    """How many reminders about the course ``title`` each address got."""
    count: dict[str, int] = {}
    for m in stack.emails():
        subject = m.get("subject") or ""
        if subject.startswith("Reminder") and title in subject:
            for to in m["destinations"]["ToAddresses"]:
                count[to] = count.get(to, 0) + 1
    return count


def settled(stack: LocalStack, title: str, want: dict[str, int]) -> dict[str, int]:
    """Wait for ``want`` reminders, then a few more scheduler ticks: no more than that come."""
    got = stack.wait_for(lambda: (now := reminders(stack, title)) == want and now, timeout=30)
    assert got == want, (reminders(stack, title), stack.log_text()[-3000:])
    time.sleep(3 * stack.schedule_seconds)
    return reminders(stack, title)


def test_a_soon_session_is_reminded_once_per_start_and_its_calendars_follow_it(
    local_stack: LocalStack,
) -> None:
    admin = local_stack.login("admin")["access_token"]
    student = local_stack.login("student")["access_token"]
    tenant, _ = call(local_stack, "GET", "/tenants/me", admin)
    lead = tenant["reminder_minutes_before"]
    assert lead == 60, "the demo tenant reminds an hour ahead"
    me = available_instructor(local_stack, admin)
    course = published_course(local_stack, admin, me, "Reminder course")
    title = course["title"]
    # The first quarter hour at least the tenant's 30 minutes' notice ahead (31 to 46 minutes
    # from now), and the reminder two hours ahead for sessions assigned from now on (the demo's
    # hour is put back at the end): its reminder is due at once, and after the move below too.
    soon = datetime.now(UTC) + timedelta(minutes=31)
    starts = soon.replace(second=0, microsecond=0) + timedelta(minutes=-soon.minute % 15)
    body = {"course_id": course["id"], "starts_at": z(starts), "duration_minutes": 60}
    booking, _ = call(local_stack, "POST", "/bookings", student, body)
    bid, uid = booking["id"], f"booking-{booking['id']}@tutorbook"
    call(local_stack, "POST", f"/bookings/{bid}/approve", admin)
    call(local_stack, "PATCH", "/tenants/me", admin, {"reminder_minutes_before": 120})
    try:
        assigned, _ = call(
            local_stack, "POST", f"/bookings/{bid}/assign", admin, {"instructor_id": me["id"]}
        )
    finally:
        call(local_stack, "PATCH", "/tenants/me", admin, {"reminder_minutes_before": lead})
    people = {local_stack.logins["student"].email, me["email"]}

    # Each participant is reminded once, within a couple of scheduler ticks, and only once.
    once = dict.fromkeys(people, 1)
    assert settled(local_stack, title, once) == once
    assert local_stack.wait_for(lambda: "Reminder: your session" in local_stack.log_text())

    # Moved a quarter hour later: reminded once more (the lead it was assigned with, two hours,
    # not the tenant's hour now), of the new time.
    later = starts + timedelta(minutes=15)
    moved, _ = call(
        local_stack, "POST", f"/bookings/{bid}/reschedule", admin, {"starts_at": z(later)}
    )
    twice = dict.fromkeys(people, 2)
    assert settled(local_stack, title, twice) == twice
    subjects = [
        m["subject"]
        for m in local_stack.emails()
        if m["destinations"]["ToAddresses"] == [me["email"]]
        and (m.get("subject") or "").startswith("Reminder")
        and title in m["subject"]
    ]
    # One reminder per start: the second names the new time.
    assert len(subjects) == 2 and subjects[0] != subjects[1]

    # The invites, read from the emulator's SES and parsed: one UID, the move a higher SEQUENCE.
    sent = local_stack.wait_for(
        lambda: (found := invites(local_stack, title, "REQUEST")) and len(found) >= 4 and found,
        timeout=30,
    )
    assert sent, local_stack.log_text()[-3000:]
    assert {to for to, _ in sent} == people
    assert {str(event["UID"]) for _, event in sent} == {uid}
    by_sequence = sorted(sent, key=lambda pair: int(pair[1]["SEQUENCE"]))
    assert by_sequence[0][1].decoded("DTSTART") == starts
    assert by_sequence[-1][1].decoded("DTSTART") == later
    assert int(by_sequence[-1][1]["SEQUENCE"]) == moved["version"] > assigned["version"]

    # A subscribed feed (the instructor's and the student's) lists the session.
    feeds = [
        call(local_stack, "POST", "/users/me/calendar-feed", token)[0]["url"]
        for token in (me["token"], student)
    ]
    assert all(uid in feed_uids(url) for url in feeds)

    # Cancelled: gone from both feeds, a CANCEL for the same UID to both, no more reminders.
    call(local_stack, "POST", f"/bookings/{bid}/cancel", admin, {"reason": "Room closed"})
    assert all(uid not in feed_uids(url) for url in feeds)
    cancels = local_stack.wait_for(
        lambda: (found := invites(local_stack, title, "CANCEL")) and len(found) >= 2 and found,
        timeout=30,
    )
    assert cancels, local_stack.log_text()[-3000:]
    assert {to for to, _ in cancels} == people
    assert all(str(event["UID"]) == uid for _, event in cancels)
    assert reminders(local_stack, title) == twice
