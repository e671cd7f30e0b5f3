"""Each participant of an assigned session is reminded by email ``reminder_minutes_before`` its
start, once per start: through the scheduled finder, the reminder queue, the stream and the
notification sender. A reschedule re-arms the reminder, leaving ``assigned`` disarms it, the
tenant's setting applies to sessions assigned after it changes, and the finder's cost stays flat
as the number of bookings grows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.bookings import World, make_world
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
    "id": "6d2b0d1e-0000-4000-8000-000000000003",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-01-01T00:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/find_due_reminders"],
    "detail": {},
}
DEFAULT_LEAD = 1440  # the tenant's reminder_minutes_before unless it is changed


def find(client: Any) -> Any:
    return client.lambda_.invoke("find_due_reminders", SCHEDULED).payload


def remind(client: Any, records: list[dict[str, Any]]) -> Any:
    return client.lambda_.invoke("send_reminders", sqs_event(records)).payload


def _start(booking: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(booking["starts_at"].replace("Z", "+00:00"))


def _due(booking: dict[str, Any], lead: int = DEFAULT_LEAD) -> datetime:
    """A minute after the session's reminder is due."""
    return _start(booking) - timedelta(minutes=lead - 1)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Mail:
    """Runs the stream and the notification queue like Lambda does (a stream batch delivered
    twice), and answers the reminder emails sent since the last look."""

    def __init__(self, client: Any, aws: dict[str, str]) -> None:
        self.client = client
        self.stream = StreamTap(aws["MAIN_TABLE"])
        self.notifications = QueueTap(aws["NOTIFICATIONS_QUEUE_URL"])
        self.seen = 0

    def reminders(self) -> list[dict[str, Any]]:
        records = self.stream.records()
        for _ in range(2 if records else 0):  # a stream batch redelivered queues them again
            out = self.client.lambda_.invoke("dispatch_events", stream_event(records)).payload
            assert failures(out) == []
        notes = self.notifications.records()
        if notes:
            out = self.client.lambda_.invoke("send_notifications", sqs_event(notes)).payload
            assert failures(out) == []
        emails = sent_emails()
        new, self.seen = emails[self.seen :], len(emails)
        return [e for e in new if e["subject"].startswith("Reminder")]


def _to(emails: list[dict[str, Any]]) -> list[str]:
    return sorted(address for e in emails for address in e["to"])


PARTICIPANTS = ["instructor@acme.example", "student@acme.example"]


def test_each_participant_is_reminded_once_before_an_assigned_session(api, client, aws, clock):
    mail = Mail(client, aws)
    queue = QueueTap(aws["REMINDER_QUEUE_URL"])
    world = make_world(api, "acme")
    assigned = world.booking_in("assigned")
    waiting = world.booking_in("approved")  # not assigned: nobody to remind yet
    mail.reminders()

    assert find(client) == {"queued": 0}  # three days ahead: not due yet
    clock.now = _start(assigned) - timedelta(minutes=DEFAULT_LEAD + 1)
    assert find(client) == {"queued": 0}  # a minute before its reminder is due

    clock.now = _due(assigned)
    assert find(client) == {"queued": 1}
    assert find(client) == {"queued": 1}  # the finder ran twice in one window
    messages = queue.records()
    assert [json.loads(m["body"])["booking_id"] for m in messages] == [assigned["id"]] * 2
    # Both messages delivered, one of them again: the session is marked reminded once.
    assert failures(remind(client, [*messages, messages[0]])) == []
    assert find(client) == {"queued": 0}
    got = world.get(assigned["id"]).json
    assert got["status"] == "assigned" and got["version"] == assigned["version"] + 1

    emails = mail.reminders()
    assert _to(emails) == PARTICIPANTS
    student = next(e for e in emails if e["to"] == ["student@acme.example"])
    assert student["subject"].startswith("Reminder: your session is coming up: Algebra at ")
    assert "<th align='left'>Instructor</th><td>instructor</td>" in student["body"]
    assert all("invite.ics" not in json.dumps(e) for e in emails)  # the invite came with assign
    assert world.get(waiting["id"]).json["version"] == waiting["version"]

    # The audit entry: no user actor, the finder's run id, the start it reminded of.
    client.lambda_.invoke("record_audit", stream_event(StreamTap(aws["MAIN_TABLE"]).records()))
    trail = api.get(f"/audit?entity_id={assigned['id']}", token=world.token("admin")).json
    newest = trail["items"][0]
    assert newest["actor_id"] is None and newest["correlation_id"].startswith("reminder-")
    assert _start({"starts_at": newest["after"]["reminded_for"]}) == _start(assigned)
    assert "remind_pk" not in newest["before"] and "remind_sk" not in newest["before"]

    # Found again (an operator re-drives old messages): nobody gets a second reminder.
    assert failures(remind(client, messages)) == []
    assert mail.reminders() == []


def _reschedule(world: World, booking: dict[str, Any], to: datetime) -> dict[str, Any]:
    r = world.api.post(
        f"/bookings/{booking['id']}/reschedule",
        {"starts_at": _iso(to)},
        token=world.token("admin"),
    )
    assert r.status == 200, r.body
    return dict(r.json)


def test_a_reschedule_rearms_the_reminder_for_the_new_start(api, client, aws, clock):
    mail = Mail(client, aws)
    queue = QueueTap(aws["REMINDER_QUEUE_URL"])
    world = make_world(api, "acme")
    booking = world.booking_in("assigned")
    clock.now = _due(booking)
    find(client)
    assert failures(remind(client, queue.records())) == []
    assert _to(mail.reminders()) == PARTICIPANTS

    # Moved two days later: reminded again, for the new time, when that reminder is due.
    moved = _reschedule(world, booking, _start(booking) + timedelta(days=2))
    assert find(client) == {"queued": 0}
    clock.now = _due(moved)
    assert find(client) == {"queued": 1}
    assert failures(remind(client, queue.records())) == []
    emails = mail.reminders()
    assert _to(emails) == PARTICIPANTS
    new_time = _start(moved).strftime("%-d %b %Y, %H:%M")
    assert all(new_time in e["subject"] for e in emails), [e["subject"] for e in emails]


def test_a_session_moved_after_it_was_found_is_reminded_of_its_new_time(api, client, aws, clock):
    mail = Mail(client, aws)
    queue = QueueTap(aws["REMINDER_QUEUE_URL"])
    world = make_world(api, "acme")
    booking = world.booking_in("assigned")
    clock.now = _due(booking)
    assert find(client) == {"queued": 1}
    stale = queue.records()
    moved = _reschedule(world, booking, _start(booking) + timedelta(days=1))
    mail.reminders()

    # The message names the old start: it changes nothing, and the new time is still armed.
    assert failures(remind(client, stale)) == []
    assert mail.reminders() == []
    assert world.get(booking["id"]).json["version"] == moved["version"]
    clock.now = _due(moved)
    assert find(client) == {"queued": 1}
    assert failures(remind(client, queue.records())) == []
    assert _to(mail.reminders()) == PARTICIPANTS


def test_cancel_and_completion_disarm_the_reminder(api, client, aws, clock):
    mail = Mail(client, aws)
    world = make_world(api, "acme")
    cancelled = world.booking_in("cancelled")  # assigned, then cancelled
    completed = world.booking_in("assigned")
    assert world.act("admin", completed["id"], "complete").status == 200
    mail.reminders()

    clock.now = max(_start(cancelled), _start(completed))
    assert find(client) == {"queued": 0}
    assert mail.reminders() == []


def _found(client: Any, queue: QueueTap) -> set[str]:
    """The sessions one run of the finder queues."""
    find(client)
    return {json.loads(m["body"])["booking_id"] for m in queue.records()}


def test_the_tenants_setting_applies_to_sessions_assigned_after_it_changes(api, client, aws, clock):
    queue = QueueTap(aws["REMINDER_QUEUE_URL"])
    world = make_world(api, "acme")
    admin = world.token("admin")
    before = world.booking_in("assigned")  # reminded a day ahead, the default
    r = api.patch("/tenants/me", {"reminder_minutes_before": 60}, token=admin)
    assert r.status == 200 and r.json["reminder_minutes_before"] == 60
    after = world.booking_in("assigned")  # reminded an hour ahead
    assert api.patch("/tenants/me", {"reminder_minutes_before": None}, token=admin).status == 200
    none = world.booking_in("assigned")  # the tenant sends no reminders now

    clock.now = _due(before)
    assert _found(client, queue) == {before["id"]}
    clock.now = _due(after)  # a day before `after`: its reminder is not due, it has an hour
    assert _found(client, queue) == {before["id"]}
    clock.now = _due(after, lead=60)
    assert _found(client, queue) == {before["id"], after["id"]}
    clock.now = _start(none) - timedelta(minutes=1)
    assert none["id"] not in _found(client, queue)

    # A session moved keeps what it was assigned with: still none for `none`.
    moved = _reschedule(world, none, _start(none) + timedelta(days=1))
    clock.now = _start(moved) - timedelta(minutes=1)
    assert none["id"] not in _found(client, queue)


def test_a_session_that_already_started_is_taken_off_without_an_email(api, client, aws, clock):
    mail = Mail(client, aws)
    queue = QueueTap(aws["REMINDER_QUEUE_URL"])
    world = make_world(api, "acme")
    booking = world.booking_in("assigned")
    mail.reminders()
    clock.now = _start(booking) + timedelta(minutes=5)  # the finder did not run in time
    assert find(client) == {"queued": 1}
    assert failures(remind(client, queue.records())) == []
    assert mail.reminders() == []
    assert find(client) == {"queued": 0}  # not read again, run after run
    assert world.get(booking["id"]).json["status"] == "assigned"


def test_a_malformed_reminder_message_fails_alone(api, client, aws, clock):
    mail = Mail(client, aws)
    queue = QueueTap(aws["REMINDER_QUEUE_URL"])
    world = make_world(api, "acme")
    booking = world.booking_in("assigned")
    mail.reminders()
    clock.now = _due(booking)
    find(client)
    [good] = queue.records()
    poison = sqs_record('{"tenant_id": "t"}')
    unknown = sqs_record(
        json.dumps({"tenant_id": world.tenant_id, "booking_id": "nope", "starts_at": _iso(clock())})
    )
    assert failures(remind(client, [poison, unknown, good])) == [poison["messageId"]]
    assert _to(mail.reminders()) == PARTICIPANTS


# --- cost: flat in the number of bookings -------------------------------------------------------
DUE = 5


def _due_soon(n: int, due: bool, now: datetime) -> Row:
    """The due ones are assigned sessions within their reminder lead; the others are assigned
    sessions further ahead, waiting bookings, or over."""
    from chalicelib.models.bookings import BookingStatus

    created = now - timedelta(days=3)
    if due:
        starts_at = now + timedelta(hours=1, minutes=n)
        return Row(BookingStatus.assigned, starts_at, None, created, DEFAULT_LEAD)
    if n % 3 == 0:
        starts_at = now + timedelta(days=3, minutes=n)
        return Row(BookingStatus.assigned, starts_at, None, created, DEFAULT_LEAD)
    if n % 3 == 1:
        return Row(BookingStatus.approved, now + timedelta(days=1, minutes=n), None, created)
    return Row(BookingStatus.completed, now - timedelta(days=1, minutes=n), None, created)


def test_reminder_requests_stay_flat_as_bookings_grow(client, aws, aws_requests, record_property):
    """The finder and the consumer make the same requests, and read the same items, at 100 and
    at 5,000 bookings (``make bench`` prints the figures)."""
    queue = QueueTap(aws["REMINDER_QUEUE_URL"])
    measured = measure(
        aws_requests, queue, lambda: find(client), lambda m: remind(client, m), DUE, _due_soon
    )
    assert measured[100] == measured[5000]
    record_property("bench_scaling", bench_figures("reminder", measured))


def test_the_local_stacks_scheduler_and_pump_remind_and_email(chalice_app, api, aws, clock):
    """What ``make dev`` runs: every scheduled function on its period, then every queue and
    stream delivered to its function, until the chain settles."""
    from chalicelib.local.pump import EventPump
    from chalicelib.local.scheduler import Scheduler

    world = make_world(api, "acme")
    booking = world.booking_in("assigned")
    pump = EventPump(chalice_app)
    pump.drain()
    before = len(sent_emails())

    clock.now = _due(booking)
    scheduler = Scheduler(chalice_app)
    assert scheduler.run_once() == len(scheduler.jobs)
    pump.drain()
    emails = [e for e in sent_emails()[before:] if e["subject"].startswith("Reminder")]
    assert _to(emails) == PARTICIPANTS
    scheduler.run_once()
    pump.drain()
    assert [e for e in sent_emails()[before:] if e["subject"].startswith("Reminder")] == emails
