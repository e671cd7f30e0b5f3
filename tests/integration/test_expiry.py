"""Bookings still waiting for an admin when their start passes become ``expired``, once, through
the scheduled finder and the expiry queue; a race with an admin's action has one winner; the
finder's cost stays flat as the number of bookings grows."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from tests.support.bookings import make_world
from tests.support.eventkit import (
    QueueTap,
    StreamTap,
    failures,
    sent_emails,
    sqs_event,
    sqs_record,
    stream_event,
)
from tests.support.flat_cost import Row, bench_figures, measure

SCHEDULED = {
    "version": "0",
    "id": "6d2b0d1e-0000-4000-8000-000000000002",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-01-01T00:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/find_expired_bookings"],
    "detail": {},
}


def find(client: Any) -> Any:
    return client.lambda_.invoke("find_expired_bookings", SCHEDULED).payload


def expire(client: Any, records: list[dict[str, Any]]) -> Any:
    return client.lambda_.invoke("expire_bookings", sqs_event(records)).payload


def _after_start(booking: dict[str, Any]) -> datetime:
    start = datetime.fromisoformat(booking["starts_at"].replace("Z", "+00:00"))
    return start + timedelta(minutes=1)


def test_waiting_bookings_expire_once_when_their_start_passes(api, client, aws, clock):
    stream = StreamTap(aws["MAIN_TABLE"])
    queue = QueueTap(aws["EXPIRY_QUEUE_URL"])
    world = make_world(api, "acme")
    requested = world.booking_in("requested")
    approved = world.booking_in("approved")
    assigned = world.booking_in("assigned")  # the session happens: never expired
    cancelled = world.booking_in("cancelled")
    later = world.booking_in("requested")

    assert find(client) == {"queued": 0}  # nothing has started yet
    assert queue.records() == []

    clock.now = _after_start(approved)  # requested and approved started, `later` did not
    assert find(client) == {"queued": 2}
    assert find(client) == {"queued": 2}  # the finder ran twice in one window
    messages = queue.records()
    assert len(messages) == 4
    assert sorted({json.loads(m["body"])["booking_id"] for m in messages}) == sorted(
        [requested["id"], approved["id"]]
    )
    # Every message is delivered, one of them twice more: each booking expires once.
    assert failures(expire(client, [*messages, messages[0]])) == []
    assert failures(expire(client, [messages[1]])) == []
    assert find(client) == {"queued": 0}

    for booking in (requested, approved):
        got = world.get(booking["id"]).json
        assert got["status"] == "expired"
        assert got["version"] == booking["version"] + 1
    for booking, status in ((assigned, "assigned"), (cancelled, "cancelled"), (later, "requested")):
        assert world.get(booking["id"]).json["status"] == status

    # Expired is terminal: every action is refused, nothing changes.
    for action in ("approve", "assign", "reject", "cancel", "complete"):
        r = world.act("admin", requested["id"], action)
        assert r.status == 409 and r.json["error"]["code"] == "invalid_transition", action
    r = world.act("student", approved["id"], "cancel")
    assert r.status == 409

    # Listed under its new status, for the admin and for the student.
    listed = api.get("/bookings?status=expired", token=world.token("admin")).json["items"]
    assert sorted(b["id"] for b in listed) == sorted([requested["id"], approved["id"]])
    mine = api.get("/bookings?status=expired", token=world.token("student")).json["items"]
    assert len(mine) == 2
    assert api.get("/bookings?status=requested", token=world.token("admin")).json["items"] == [
        world.get(later["id"]).json
    ]

    # The audit entry has no user actor and carries the finder's run id.
    client.lambda_.invoke("record_audit", stream_event(stream.records()))
    trail = api.get(f"/audit?entity_id={requested['id']}", token=world.token("admin")).json
    newest = trail["items"][0]
    assert newest["after"]["status"] == "expired" and newest["before"]["status"] == "requested"
    assert newest["actor_id"] is None
    assert newest["correlation_id"].startswith("expiry-")
    assert "expiry_pk" not in newest["after"] and "expiry_sk" not in newest["before"]


def test_an_escalated_booking_still_expires_and_is_not_escalated_after(api, client, aws, clock):
    queue = QueueTap(aws["EXPIRY_QUEUE_URL"])
    escalations = QueueTap(aws["ESCALATION_QUEUE_URL"])
    world = make_world(api, "acme")
    escalated = world.booking_in("requested")
    fresh = world.booking_in("approved")
    clock.now = _after_start(fresh)  # both are past their escalation time and their start
    client.lambda_.invoke("find_stale_bookings", SCHEDULED)
    mine = [m for m in escalations.records() if escalated["id"] in m["body"]]
    client.lambda_.invoke("escalate_bookings", sqs_event(mine))
    assert world.get(escalated["id"]).json["escalated_at"] is not None

    assert find(client) == {"queued": 2}
    assert failures(expire(client, queue.records())) == []
    assert world.get(escalated["id"]).json["status"] == "expired"
    assert world.get(fresh["id"]).json["status"] == "expired"
    # An expired booking is off the escalation queue too: never escalated afterwards.
    assert client.lambda_.invoke("find_stale_bookings", SCHEDULED).payload == {"queued": 0}
    assert world.get(fresh["id"]).json["escalated_at"] is None


def test_a_race_with_an_admin_has_one_winner(api, client, aws, clock):
    queue = QueueTap(aws["EXPIRY_QUEUE_URL"])
    world = make_world(api, "acme")
    approved_meanwhile = world.booking_in("requested")
    cancelled_meanwhile = world.booking_in("requested")
    clock.now = _after_start(cancelled_meanwhile)
    assert find(client) == {"queued": 2}
    messages = queue.records()

    # The admin acts after the finder saw the bookings and before the consumer runs.
    assert world.act("admin", approved_meanwhile["id"], "approve").status == 200
    assert world.act("admin", cancelled_meanwhile["id"], "cancel").status == 200
    assert failures(expire(client, messages)) == []
    assert world.get(approved_meanwhile["id"]).json["status"] == "approved"
    assert world.get(cancelled_meanwhile["id"]).json["status"] == "cancelled"

    # The approved one is still waiting after its start: the next run expires it.
    assert find(client) == {"queued": 1}
    assert failures(expire(client, queue.records())) == []
    got = world.get(approved_meanwhile["id"]).json
    assert got["status"] == "expired"
    assert got["version"] == approved_meanwhile["version"] + 2


def test_a_message_for_a_booking_that_has_not_started_does_nothing(api, client, aws, clock):
    world = make_world(api, "acme")
    booking = world.booking_in("requested")
    early = json.dumps(
        {
            "tenant_id": world.tenant_id,
            "booking_id": booking["id"],
            "student_id": booking["student_id"],
            "status": "requested",
            "starts_at": booking["starts_at"],
        }
    )
    assert failures(expire(client, [sqs_record(early)])) == []
    assert world.get(booking["id"]).json["status"] == "requested"


def test_a_malformed_expiry_message_fails_alone(api, client, aws, clock):
    queue = QueueTap(aws["EXPIRY_QUEUE_URL"])
    world = make_world(api, "acme")
    booking = world.booking_in("approved")
    clock.now = _after_start(booking)
    find(client)
    [good] = queue.records()
    poison = sqs_record('{"tenant_id": "t"}')
    assert failures(expire(client, [poison, good])) == [poison["messageId"]]
    assert world.get(booking["id"]).json["status"] == "expired"


def test_the_student_is_emailed_once_when_a_booking_expires(api, client, aws, clock):
    stream = StreamTap(aws["MAIN_TABLE"])
    queue = QueueTap(aws["EXPIRY_QUEUE_URL"])
    notifications = QueueTap(aws["NOTIFICATIONS_QUEUE_URL"])
    world = make_world(api, "acme")
    booking = world.booking_in("approved")
    stream.skip()
    clock.now = _after_start(booking)
    find(client)
    expire(client, queue.records())

    records = stream.records()
    # A redelivered stream batch queues the same notification again; it is sent once.
    for _ in range(2):
        assert (
            failures(client.lambda_.invoke("dispatch_events", stream_event(records)).payload) == []
        )
    notes = [n for n in notifications.records() if "booking_expired" in n["body"]]
    assert len(notes) == 2
    assert failures(client.lambda_.invoke("send_notifications", sqs_event(notes)).payload) == []
    expired = [e for e in sent_emails() if "expired" in e["subject"].lower()]
    assert [e["to"] for e in expired] == [["student@acme.example"]]
    assert "Algebra" in expired[0]["body"]


# --- cost: flat in the number of bookings -------------------------------------------------------
STARTED = 5


def _started(n: int, due: bool, now: datetime) -> Row:
    """The due ones still wait although their start passed; the others wait for a later
    start, or do not wait at all."""
    from chalicelib.models.bookings import BookingStatus

    created = now - timedelta(days=3)
    if due:
        starts_at = now - timedelta(minutes=n + 1)
        return Row(BookingStatus.requested, starts_at, created_at=created)
    if n % 2:
        starts_at = now + timedelta(days=1, minutes=n)
        return Row(BookingStatus.approved, starts_at, created_at=created)
    starts_at = now - timedelta(days=1, minutes=n)
    return Row(BookingStatus.completed, starts_at, created_at=created)


def test_expiry_requests_stay_flat_as_bookings_grow(client, aws, aws_requests, record_property):
    """The finder and the consumer make the same requests, and read the same items, at 100 and
    at 5,000 bookings (``make bench`` prints the figures)."""
    queue = QueueTap(aws["EXPIRY_QUEUE_URL"])
    measured = measure(
        aws_requests, queue, lambda: find(client), lambda m: expire(client, m), STARTED, _started
    )
    assert measured[100] == measured[5000]
    record_property("bench_scaling", bench_figures("expiry", measured))


def test_the_local_stacks_scheduler_and_pump_expire_and_email(chalice_app, api, aws, clock):
    """What ``make dev`` runs: every scheduled function on its period, then every queue and
    stream delivered to its function, until the chain settles."""
    from chalicelib.local.pump import EventPump
    from chalicelib.local.scheduler import Scheduler

    world = make_world(api, "acme")
    booking = world.booking_in("requested")
    pump = EventPump(chalice_app)
    pump.drain()
    before = len(sent_emails())

    # Past its start and its escalation time: both finders find it in the same run; the
    # escalation does not make the expiry wait for the next run.
    clock.now = _after_start(booking)
    assert Scheduler(chalice_app).run_once() == len(Scheduler(chalice_app).jobs)
    pump.drain()
    assert world.get(booking["id"]).json["status"] == "expired"
    emails = [e for e in sent_emails()[before:] if e["to"] == ["student@acme.example"]]
    assert [e["subject"].split(":")[0] for e in emails] == ["Your booking request expired"]


def test_a_start_moved_later_expires_at_the_new_start(api, client, aws, clock):
    """A writer that moves a waiting booking's start (a reschedule) and not its place in the
    expiry index: the booking is not expired at its old start, and is at its new one."""
    from chalicelib.clock import iso
    from chalicelib.db import keys
    from chalicelib.db.booking_items import BookingItem

    queue = QueueTap(aws["EXPIRY_QUEUE_URL"])
    world = make_world(api, "acme")
    booking = world.booking_in("approved")
    later = _after_start(booking) + timedelta(days=1)
    item = BookingItem.get(*keys.booking_key(world.tenant_id, booking["id"]))
    item.update(actions=[BookingItem.starts_at.set(iso(later))])

    clock.now = _after_start(booking)
    assert find(client) == {"queued": 0}
    assert world.get(booking["id"]).json["status"] == "approved"
    clock.now = later
    assert find(client) == {"queued": 1}
    assert failures(expire(client, queue.records())) == []
    assert world.get(booking["id"]).json["status"] == "expired"
