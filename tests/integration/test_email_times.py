"""Every time in an email is in the recipient's time zone (theirs, else the tenant's) with the
zone's name, and a booking moved to another time emails its student and assigned instructor
once; the zones cost the sender no extra request."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.support.bookings import World, make_world
from tests.support.eventkit import (
    QueueTap,
    StreamTap,
    failures,
    sent_emails,
    sqs_event,
    stream_event,
)

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def shown(iso: str, zone: str) -> str:
    """How a person in ``zone`` should read the UTC instant ``iso``."""
    at = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(ZoneInfo(zone))
    return (
        f"{WEEKDAYS[at.weekday()]} {at.day} {MONTHS[at.month - 1]} {at.year}, {at:%H:%M} ({zone})"
    )


@pytest.fixture
def taps(aws: dict[str, str]) -> tuple[StreamTap, QueueTap]:
    return StreamTap(aws["MAIN_TABLE"]), QueueTap(aws["NOTIFICATIONS_QUEUE_URL"])


def deliver(client: Any, stream: StreamTap, queue: QueueTap) -> list[dict[str, Any]]:
    """Stream -> notifications queue -> SES; answers the emails sent by this step."""
    before = len(sent_emails())
    records = stream.records()
    answer = client.lambda_.invoke("dispatch_events", stream_event(records)).payload
    assert failures(answer) == []
    answer = client.lambda_.invoke("send_notifications", sqs_event(queue.records())).payload
    assert failures(answer) == []
    return sent_emails()[before:]


def zones(api: Any, world: World, tenant: str, student: str | None) -> None:
    r = api.patch("/tenants/me", {"time_zone": tenant}, token=world.token("admin"))
    assert r.status == 200, r.body
    if student:
        r = api.patch(
            f"/users/{world.ids['student']}", {"time_zone": student}, token=world.token("student")
        )
        assert r.status == 200, r.body


def test_each_recipient_reads_the_time_in_their_zone_else_the_tenants(api, client, aws, taps):
    stream, queue = taps
    world = make_world(api, "acme")
    zones(api, world, tenant="America/New_York", student="Asia/Kolkata")  # +05:30
    stream.skip()
    booking = world.booking_in("assigned")
    emails = deliver(client, stream, queue)
    student = [e for e in emails if e["to"] == ["student@acme.example"]]
    instructor = [e for e in emails if e["to"] == ["instructor@acme.example"]]
    assert len(student) == 3 and len(instructor) == 1  # requested, approved, assigned
    for email in student:
        assert shown(booking["starts_at"], "Asia/Kolkata") in email["subject"]
        assert shown(booking["starts_at"], "Asia/Kolkata") in email["body"]
        assert booking["starts_at"] not in email["body"]  # no UTC time left anywhere
    [email] = instructor  # no zone of their own: the tenant's
    assert shown(booking["starts_at"], "America/New_York") in email["subject"]
    assert shown(booking["starts_at"], "America/New_York") in email["body"]


def test_sending_reads_people_course_and_tenant_zone_in_one_request(
    api, client, aws, taps, aws_requests
):
    stream, queue = taps
    world = make_world(api, "acme")
    zones(api, world, tenant="Europe/Berlin", student=None)
    stream.skip()
    booking = world.booking_in("approved")
    client.lambda_.invoke("dispatch_events", stream_event(stream.records()))
    messages = queue.records()
    aws_requests.reset()
    answer = client.lambda_.invoke("send_notifications", sqs_event(messages)).payload
    assert failures(answer) == []
    reads = [op for op in aws_requests.operations("dynamodb") if op in ("BatchGetItem", "Query")]
    assert reads == ["BatchGetItem"] * len(messages)  # one read per notification, as before
    emails = sent_emails()
    assert emails and all(shown(booking["starts_at"], "Europe/Berlin") in e["body"] for e in emails)


def _move(world: World, booking: dict[str, Any], minutes: int, duration: int) -> str:
    """Moves the booking's time through the data layer (what a reschedule writes); answers
    the new start."""
    from chalicelib.clock import iso
    from chalicelib.db import keys
    from chalicelib.db.booking_items import BookingItem, start_key

    start = datetime.fromisoformat(booking["starts_at"].replace("Z", "+00:00"))
    moved = start + timedelta(minutes=minutes)
    pk, sk = keys.booking_key(world.tenant_id, booking["id"])
    item = BookingItem.get(pk, sk, consistent_read=True)
    item.update(
        actions=[
            BookingItem.starts_at.set(iso(moved)),
            BookingItem.duration_minutes.set(duration),
            BookingItem.start_sk.set(start_key(moved, booking["id"])),
        ]
    )
    return iso(moved)


def test_a_moved_assigned_booking_emails_student_and_instructor_once(api, client, aws, taps):
    stream, queue = taps
    world = make_world(api, "acme")
    zones(api, world, tenant="Europe/Berlin", student=None)
    booking = world.booking_in("assigned")
    deliver(client, stream, queue)

    new_start = _move(world, booking, minutes=24 * 60 + 30, duration=90)
    records = stream.records()
    for _ in range(2):  # the stream batch is delivered twice
        client.lambda_.invoke("dispatch_events", stream_event(records))
    notes = queue.records()
    assert [n for n in notes if "booking_rescheduled" not in n["body"]] == []
    assert len(notes) == 2
    client.lambda_.invoke("send_notifications", sqs_event(notes))
    moved = [e for e in sent_emails() if e["subject"].startswith("A booking was moved")]
    assert sorted(e["to"][0] for e in moved) == ["instructor@acme.example", "student@acme.example"]
    for email in moved:
        assert shown(new_start, "Europe/Berlin") in email["subject"]
        assert shown(new_start, "Europe/Berlin") in email["body"]
        assert shown(booking["starts_at"], "Europe/Berlin") in email["body"]  # where it was
        assert "90 minutes" in email["body"] and "60 minutes" in email["body"]


def test_a_moved_request_emails_only_its_student(api, client, aws, taps):
    stream, queue = taps
    world = make_world(api, "acme")
    booking = world.booking_in("requested")
    deliver(client, stream, queue)
    _move(world, booking, minutes=60, duration=booking["duration_minutes"])
    emails = deliver(client, stream, queue)
    assert [(e["to"], e["subject"].split(":")[0]) for e in emails] == [
        (["student@acme.example"], "A booking was moved")
    ]
    # Another change that keeps the time emails nobody.
    assert world.act("admin", booking["id"], "approve").status == 200
    emails = deliver(client, stream, queue)
    assert [e["subject"].split(":")[0] for e in emails] == ["Your booking was approved"]
