"""stale bookings are escalated once per waiting state, admins are emailed,
and the finder's cost stays flat as the number of bookings grows."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from tests.support.accounts import new_user
from tests.support.bookings import make_world
from tests.support.eventkit import (
    QueueTap,
    StreamTap,
    failures,
    sent_emails,
    sqs_event,
    stream_event,
)
from tests.support.flat_cost import Row, bench_figures, measure

SCHEDULED = {
    "version": "0",
    "id": "6d2b0d1e-0000-4000-8000-000000000001",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-01-01T00:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/find_stale_bookings"],
    "detail": {},
}


def find(client: Any) -> Any:
    return client.lambda_.invoke("find_stale_bookings", SCHEDULED).payload


def escalate(client: Any, records: list[dict[str, Any]]) -> Any:
    return client.lambda_.invoke("escalate_bookings", sqs_event(records)).payload


def test_stale_bookings_escalate_once_and_every_active_admin_is_emailed(api, client, aws, clock):
    stream = StreamTap(aws["MAIN_TABLE"])
    queue = QueueTap(aws["ESCALATION_QUEUE_URL"])
    notifications = QueueTap(aws["NOTIFICATIONS_QUEUE_URL"])
    world = make_world(api, "acme")
    second = new_user(world.tenant, "admin2@acme.example", "admin", name="Second")
    gone = new_user(world.tenant, "gone@acme.example", "admin", name="Gone")
    api.patch(f"/users/{gone['id']}", {"active": False}, token=world.token("admin"))
    requested = world.booking_in("requested")
    approved = world.booking_in("approved")
    assigned = world.booking_in("assigned")  # not waiting for an admin: never escalated

    assert find(client) == {"queued": 0}  # nothing is due yet
    assert queue.records() == []

    clock.advance(minutes=1440 + 1)
    assert find(client) == {"queued": 2}
    assert find(client) == {"queued": 2}  # the finder ran twice in one window
    messages = queue.records()
    assert len(messages) == 4  # both runs queued both bookings
    assert sorted({json.loads(m["body"])["booking_id"] for m in messages}) == sorted(
        [requested["id"], approved["id"]]
    )
    # Every message is delivered, one of them twice more: each booking is escalated once.
    assert failures(escalate(client, [*messages, messages[0]])) == []
    assert failures(escalate(client, [messages[1]])) == []
    assert find(client) == {"queued": 0}

    for booking in (requested, approved):
        got = world.get(booking["id"]).json
        assert got["escalated_at"] is not None and got["status"] == booking["status"]
        assert got["version"] == booking["version"] + 1
    assert world.get(assigned["id"]).json["escalated_at"] is None

    # The stream yields the admins' emails: every active admin, once per escalation.
    records = stream.records()
    assert failures(client.lambda_.invoke("dispatch_events", stream_event(records)).payload) == []
    notes = [n for n in notifications.records() if "booking_escalated" in n["body"]]
    assert len(notes) == 2
    assert failures(client.lambda_.invoke("send_notifications", sqs_event(notes)).payload) == []
    escalated = [e for e in sent_emails() if e["subject"].startswith("A booking is waiting")]
    assert sorted(e["to"][0] for e in escalated) == sorted(
        ["admin@example.com", "admin2@acme.example"] * 2
    )
    assert all("Algebra" in e["body"] for e in escalated)
    assert second["id"]

    # The audit entry of an escalation has no user actor and carries the finder's run id.
    client.lambda_.invoke("record_audit", stream_event(records))
    trail = api.get(f"/audit?entity_id={requested['id']}", token=world.token("admin"))
    trail = trail.json["items"]
    assert trail[0]["action"] == "updated"
    assert trail[0]["after"]["escalated_at"] and trail[0]["before"].get("escalated_at") is None
    assert trail[0]["actor_id"] is None
    assert trail[0]["correlation_id"].startswith("escalation-")


def test_a_new_waiting_state_can_escalate_again(api, client, aws, clock):
    queue = QueueTap(aws["ESCALATION_QUEUE_URL"])
    world = make_world(api, "acme")
    booking = world.booking_in("requested")
    clock.advance(days=2)
    find(client)
    escalate(client, queue.records())
    first = world.get(booking["id"]).json["escalated_at"]
    assert first

    assert world.act("admin", booking["id"], "approve").status == 200  # a new waiting state
    clock.advance(days=4)
    find(client)
    messages = queue.records()
    assert [json.loads(m["body"])["status"] for m in messages] == ["approved"]
    escalate(client, messages)
    again = world.get(booking["id"]).json
    assert again["status"] == "approved" and again["escalated_at"] > first


def test_a_stale_message_for_a_booking_that_moved_on_does_nothing(api, client, aws, clock):
    queue = QueueTap(aws["ESCALATION_QUEUE_URL"])
    world = make_world(api, "acme")
    booking = world.booking_in("requested")
    clock.advance(days=2)
    find(client)
    messages = queue.records()
    assert world.act("admin", booking["id"], "approve").status == 200  # handled meanwhile
    assert failures(escalate(client, messages)) == []
    assert world.get(booking["id"]).json["escalated_at"] is None


def test_a_malformed_escalation_message_fails_alone(api, client, aws, clock):
    queue = QueueTap(aws["ESCALATION_QUEUE_URL"])
    world = make_world(api, "acme")
    booking = world.booking_in("requested")
    clock.advance(days=2)
    find(client)
    [good] = queue.records()
    from tests.support.eventkit import sqs_record

    poison = sqs_record('{"tenant_id": "t"}')
    assert failures(escalate(client, [poison, good])) == [poison["messageId"]]
    assert world.get(booking["id"]).json["escalated_at"] is not None


# --- cost: flat in the number of bookings -------------------------------------------------------
STALE = 5


def _stale(n: int, due: bool, now: datetime) -> Row:
    """The due ones wait past their escalate-at; the others wait but are not yet due, or do
    not wait at all."""
    from chalicelib.models.bookings import BookingStatus

    starts_at = now + timedelta(days=3)
    if due:
        return Row(BookingStatus.requested, starts_at, now - timedelta(minutes=n + 1))
    if n % 2:
        return Row(BookingStatus.approved, starts_at, now + timedelta(days=1, minutes=n))
    return Row(BookingStatus.completed, starts_at)


def test_escalation_requests_stay_flat_as_bookings_grow(client, aws, aws_requests, record_property):
    """The finder and the consumer make the same requests, and read the same items, at 100 and
    at 5,000 bookings (``make bench`` prints the figures)."""
    queue = QueueTap(aws["ESCALATION_QUEUE_URL"])
    measured = measure(
        aws_requests, queue, lambda: find(client), lambda m: escalate(client, m), STALE, _stale
    )
    assert measured[100] == measured[5000]
    record_property("bench_scaling", bench_figures("escalation", measured))
