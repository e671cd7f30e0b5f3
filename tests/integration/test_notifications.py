"""Stream -> notifications queue -> SES v2, exactly once per notification."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import boto3
import pytest

from tests.support.accounts import new_user
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


@pytest.fixture
def taps(aws: dict[str, str]) -> tuple[StreamTap, QueueTap]:
    return StreamTap(aws["MAIN_TABLE"]), QueueTap(aws["NOTIFICATIONS_QUEUE_URL"])


def dispatch(client: Any, stream: StreamTap) -> list[dict[str, Any]]:
    """Deliver the new stream records to dispatch_events; answer the queued SQS records."""
    records = stream.records()
    answer = client.lambda_.invoke("dispatch_events", stream_event(records)).payload
    assert failures(answer) == []
    return records


def send(client: Any, records: list[dict[str, Any]]) -> Any:
    return client.lambda_.invoke("send_notifications", sqs_event(records)).payload


def emails_to(address: str) -> list[dict[str, Any]]:
    return [e for e in sent_emails() if address in e["to"]]


def test_a_user_created_by_an_admin_gets_one_welcome_email(api, client, aws, taps, acme):
    stream, queue = taps
    dispatch(client, stream)  # the sign-up: the first admin is not welcomed by anyone
    assert queue.records() == []

    new_user(acme, "new@example.com", "instructor", name="Nina New")
    dispatch(client, stream)
    messages = queue.records()
    assert len(messages) == 1
    assert failures(send(client, messages)) == []
    [email] = sent_emails()
    assert email["to"] == ["new@example.com"]
    assert email["from"] == aws["EMAIL_SENDER"]
    assert "Welcome" in email["subject"]
    assert "Nina New" in email["body"] and "Ada Admin" in email["body"]


def test_duplicate_delivery_sends_one_email(api, client, aws, taps, acme):
    stream, queue = taps
    new_user(acme, "dup@example.com", "student")
    records = dispatch(client, stream)
    [message] = queue.records()
    # SQS delivers the message again (new receipt), and the stream record is replayed too.
    assert failures(send(client, [message])) == []
    assert failures(send(client, [dict(message, receiptHandle="again")])) == []
    client.lambda_.invoke("dispatch_events", stream_event(records))
    [replayed] = queue.records()
    assert json.loads(replayed["body"])["id"] == json.loads(message["body"])["id"]
    assert failures(send(client, [replayed])) == []
    assert len(emails_to("dup@example.com")) == 1


def test_a_poison_message_fails_alone_in_a_batch_of_ten(api, client, aws, taps, acme):
    stream, queue = taps
    for n in range(9):
        new_user(acme, f"p{n}@example.com", "student")
    dispatch(client, stream)
    good = queue.records()
    assert len(good) == 9
    poison = sqs_record('{"id": "x", "kind": "no_such_kind"}')
    batch = [*good[:4], poison, *good[4:]]
    assert len(batch) == 10

    answer = send(client, batch)
    assert failures(answer) == [poison["messageId"]]
    assert len(sent_emails()) == 9

    # Lambda delivers the failed one again (and, at least once, maybe the others): no repeats.
    answer = send(client, batch)
    assert failures(answer) == [poison["messageId"]]
    assert sorted(e["to"][0] for e in sent_emails()) == [f"p{n}@example.com" for n in range(9)]


def test_a_message_that_keeps_failing_ends_in_the_dlq(api, client, aws, taps, acme):
    """Over the real queue (the local stack's pump plays Lambda's event source mapping)."""
    from app import app
    from chalicelib.local.pump import EventPump

    stream, queue = taps
    sqs = boto3.client("sqs", region_name="us-east-1")
    sqs.send_message(QueueUrl=aws["NOTIFICATIONS_QUEUE_URL"], MessageBody="not json at all")
    new_user(acme, "ok@example.com", "student")

    EventPump(app, retry_visibility=0).drain()

    dlq = sqs.receive_message(QueueUrl=aws["NOTIFICATIONS_DLQ_URL"], MaxNumberOfMessages=10)
    assert [m["Body"] for m in dlq.get("Messages", [])] == ["not json at all"]
    assert len(emails_to("ok@example.com")) == 1
    left = sqs.receive_message(QueueUrl=aws["NOTIFICATIONS_QUEUE_URL"], MaxNumberOfMessages=10)
    assert left.get("Messages", []) == []


def test_booking_journey_emails_follow_api_table(api, client, aws, taps):
    stream, queue = taps
    world = make_world(api, "acme")
    dispatch(client, stream)
    send(client, queue.records())
    before = len(sent_emails())

    booking = world.booking_in("completed")
    dispatch(client, stream)
    messages = queue.records()
    kinds = sorted(json.loads(m["body"])["kind"] for m in messages)
    assert kinds == sorted(
        ["booking_requested", "booking_approved", "booking_assigned", "booking_completed"]
    )
    assert failures(send(client, messages)) == []
    emails = sent_emails()[before:]
    student, instructor = "student@acme.example", "instructor@acme.example"
    got = sorted((e["to"][0], e["subject"].split(":")[0]) for e in emails)
    assert got == sorted(
        [
            (student, "Your booking request was received"),
            (student, "Your booking was approved"),
            (student, "A booking was assigned"),
            (instructor, "A booking was assigned"),
            (student, "Your session is complete"),
        ]
    )
    start = datetime.fromisoformat(booking["starts_at"].replace("Z", "+00:00"))
    shown = f"{start:%a} {start.day} {start:%b %Y, %H:%M} (UTC)"  # the tenant's zone, named
    for e in emails:  # names the course, the time and the people
        assert "Algebra" in e["subject"] and shown in e["subject"]
        assert "Algebra" in e["body"] and shown in e["body"]
        assert "student" in e["body"]  # the student's name (make_world names people by role)
    assigned = [e for e in emails if e["to"] == [instructor]][0]
    assert "instructor" in assigned["body"]


def test_cancel_and_reject_email_the_student_and_the_assigned_instructor(api, client, aws, taps):
    stream, queue = taps
    world = make_world(api, "acme")
    world.booking_in("cancelled")  # was assigned: both hear of it
    world.booking_in("rejected")  # never assigned: the student only
    dispatch(client, stream)
    messages = queue.records()
    send(client, messages)
    cancelled = [e for e in sent_emails() if e["subject"].startswith("A booking was cancelled")]
    rejected = [e for e in sent_emails() if e["subject"].startswith("A booking was rejected")]
    assert sorted(e["to"][0] for e in cancelled) == [
        "instructor@acme.example",
        "student@acme.example",
    ]
    assert [e["to"][0] for e in rejected] == ["student@acme.example"]
    assert "No room that day" in rejected[0]["body"]


def test_failed_queueing_is_reported_from_the_failed_record_on(api, client, aws, taps, acme):
    stream, queue = taps
    stream.skip()
    new_user(acme, "a@example.com", "student")
    new_user(acme, "b@example.com", "student")
    records = stream.records()
    users = [r for r in records if r["dynamodb"]["NewImage"]["type"]["S"] == "user"]
    broken = json.loads(json.dumps(users[0]))
    broken["dynamodb"]["NewImage"]["id"] = {"S": "has#hash"}  # no such user: cannot be keyed
    broken["dynamodb"]["NewImage"]["tenant_id"] = {"NOPE": "x"}
    answer = client.lambda_.invoke("dispatch_events", stream_event([broken, users[1]])).payload
    assert failures(answer) == [
        broken["dynamodb"]["SequenceNumber"],
        users[1]["dynamodb"]["SequenceNumber"],
    ]
    assert queue.records() == []
