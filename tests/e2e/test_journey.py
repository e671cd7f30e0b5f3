"""A booking journey on the local stack (request -> approve -> assign ->
cancel) yields four audit entries and the emails the contract lists, within seconds, as a
person would see them: over HTTP, and read back from the emulator. (A session is completed
only once it has started, which a test cannot wait for; completing is covered in-process.)"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.e2e.conftest import LocalStack
from tests.e2e.instructors import available_instructor, published_course

pytestmark = pytest.mark.e2e


def call(stack: LocalStack, method: str, path: str, token: str, body: Any = None) -> Any:
    correlation = f"journey-{uuid.uuid4().hex[:12]}"
    r = requests.request(
        method,
        stack.url(path),
        json=body,
        headers={"Authorization": f"Bearer {token}", "X-Correlation-Id": correlation},
        timeout=30,
    )
    assert r.status_code < 300, (method, path, r.status_code, r.text)
    assert r.headers["X-Correlation-Id"] == correlation
    return r.json(), correlation


def recipients(message: dict[str, Any]) -> list[str]:
    return list((message.get("destinations") or {}).get("ToAddresses", []))


def test_booking_journey_yields_four_audit_entries_and_the_emails(local_stack: LocalStack):
    admin = local_stack.login("admin")["access_token"]
    student = local_stack.login("student")["access_token"]
    me = available_instructor(local_stack, admin)
    course = published_course(local_stack, admin, me, "Journey course")
    title = course["title"]
    starts = (datetime.now(UTC) + timedelta(days=9)).replace(minute=0, second=0, microsecond=0)

    booking, requested = call(
        local_stack,
        "POST",
        "/bookings",
        student,
        {
            "course_id": course["id"],
            "starts_at": starts.isoformat().replace("+00:00", "Z"),
            "duration_minutes": 60,
        },
    )
    bid = booking["id"]
    _, approved = call(local_stack, "POST", f"/bookings/{bid}/approve", admin)
    _, assigned = call(
        local_stack, "POST", f"/bookings/{bid}/assign", admin, {"instructor_id": me["id"]}
    )
    done, cancelled = call(
        local_stack, "POST", f"/bookings/{bid}/cancel", student, {"reason": "Plans changed."}
    )
    assert done["status"] == "cancelled"

    def trail() -> list[dict[str, Any]]:
        r = requests.get(
            local_stack.url(f"/audit?entity_type=booking&entity_id={bid}"),
            headers={"Authorization": f"Bearer {admin}"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        return items if len(items) >= 4 else []

    entries = local_stack.wait_for(trail, timeout=30)
    assert entries, local_stack.log_text()[-3000:]
    assert len(entries) == 4
    oldest_first = list(reversed(entries))
    assert [e["action"] for e in oldest_first] == ["created", "updated", "updated", "updated"]
    assert [e["correlation_id"] for e in oldest_first] == [
        requested,
        approved,
        assigned,
        cancelled,
    ]
    assert [e["after"]["status"] for e in oldest_first] == [
        "requested",
        "approved",
        "assigned",
        "cancelled",
    ]
    assert oldest_first[0]["actor_id"] == booking["student_id"]
    assert oldest_first[3]["actor_id"] == booking["student_id"]
    assert oldest_first[2]["after"]["instructor_id"] == me["id"]

    student_email = local_stack.logins["student"].email
    instructor_email = me["email"]
    expected = sorted(
        [
            (student_email, "Your booking request was received"),
            (student_email, "Your booking was approved"),
            (student_email, "A booking was assigned"),
            (instructor_email, "A booking was assigned"),
            (student_email, "A booking was cancelled"),
            (instructor_email, "A booking was cancelled"),
        ]
    )

    def journey_emails() -> list[dict[str, Any]]:
        found = [m for m in local_stack.emails() if title in (m.get("subject") or "")]
        return found if len(found) >= len(expected) else []

    emails = local_stack.wait_for(journey_emails, timeout=30)
    assert emails, local_stack.log_text()[-3000:]
    got = sorted((recipients(m)[0], m["subject"].split(":")[0]) for m in emails)
    assert got == expected  # exactly these: nothing sent twice
    # Nobody here set a zone of their own: times are the demo organisation's (Europe/London).
    london = starts.astimezone(ZoneInfo("Europe/London"))
    shown = f"{london.day} {london:%b %Y, %H:%M} (Europe/London)"
    for m in emails:
        assert shown in m["subject"] and shown in m["body"]
        assert title in m["body"]
    # The emails were printed to the stack's console too.
    assert local_stack.wait_for(lambda: title in local_stack.log_text(), timeout=15)


def test_the_schedule_escalates_a_stale_booking_and_emails_the_admins(local_stack: LocalStack):
    """The scheduler runs the finder every LOCAL_SCHEDULE_SECONDS; a booking whose escalate-at
    has passed is escalated once and the admin is emailed. Waiting a whole
    ``escalate_after_minutes`` (>= 1 minute) would be slow, so the test moves the booking's
    escalate-at into the past on the emulator, where the finder looks for it."""
    import boto3

    from chalicelib.db import keys

    admin = local_stack.login("admin")["access_token"]
    student = local_stack.login("student")["access_token"]
    title = f"Escalation course {uuid.uuid4().hex[:8]}"
    course, _ = call(local_stack, "POST", "/courses", admin, {"title": title, "published": True})
    starts = (datetime.now(UTC) + timedelta(days=11)).replace(minute=0, second=0, microsecond=0)
    booking, _ = call(
        local_stack,
        "POST",
        "/bookings",
        student,
        {
            "course_id": course["id"],
            "starts_at": starts.isoformat().replace("+00:00", "Z"),
            "duration_minutes": 30,
        },
    )
    ddb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=local_stack.moto_url)
    pk, sk = keys.booking_key(booking["tenant_id"], booking["id"])
    past = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    ddb.update_item(
        TableName="tutorbook-local-MainTable",
        Key={"pk": {"S": pk}, "sk": {"S": sk}},
        UpdateExpression="SET due_sk = :sk",
        ConditionExpression="attribute_exists(due_pk)",
        ExpressionAttributeValues={
            ":sk": {"S": keys.booking_due_sk(past, booking["tenant_id"], booking["id"])}
        },
    )

    def escalated() -> Any:
        r = requests.get(
            local_stack.url(f"/bookings/{booking['id']}"),
            headers={"Authorization": f"Bearer {admin}"},
            timeout=30,
        )
        return r.json()["escalated_at"]

    assert local_stack.wait_for(escalated, timeout=30), local_stack.log_text()[-3000:]
    admin_email = local_stack.logins["admin"].email

    def admin_emails() -> list[dict[str, Any]]:
        return [
            m
            for m in local_stack.emails()
            if title in (m.get("subject") or "") and "waiting" in (m.get("subject") or "")
        ]

    found = local_stack.wait_for(admin_emails, timeout=30)
    assert found, local_stack.log_text()[-3000:]
    to = [recipients(m)[0] for m in found]
    assert admin_email in to and len(to) == len(set(to))  # every active admin, once
    # Several more schedule periods later, still escalated once and emailed once.
    first = escalated()
    local_stack.wait_for(lambda: False, timeout=3 * local_stack.schedule_seconds)
    assert escalated() == first
    assert len(admin_emails()) == len(found)
