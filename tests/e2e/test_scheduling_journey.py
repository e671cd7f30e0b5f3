"""Scheduling on the local stack, as a frontend drives it: an instructor sets their week, a
student picks a free slot, an admin approves and assigns it, the session is moved (the old time
is free again, the new one taken), completing it early is refused, and a request nobody
confirmed before its start expires through the scheduler with an email to its student."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.e2e.conftest import LocalStack
from tests.e2e.instructors import available_instructor

pytestmark = pytest.mark.e2e

#: The instructor's own week, in their zone: every day 08:00-20:00 in Kathmandu (UTC+05:45).
WEEK = {
    "time_zone": "Asia/Kathmandu",
    "weekly": [
        {"day": d, "start": "08:00", "end": "20:00"}
        for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    ],
    "exceptions": [],
}


def z(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def send(stack: LocalStack, method: str, path: str, token: str, body: Any = None) -> Any:
    return requests.request(
        method,
        stack.url(path),
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def ok(stack: LocalStack, method: str, path: str, token: str, body: Any = None) -> Any:
    r = send(stack, method, path, token, body)
    assert r.status_code < 300, (method, path, r.status_code, r.text)
    return r.json() if r.content else None


def offered(stack: LocalStack, token: str, course: str, who: str, day: datetime) -> set[str]:
    """The starts ``GET /slots`` offers ``who`` for an hour-long session on ``day`` (UTC)."""
    query = (
        f"/slots?course_id={course}&instructor_id={who}&duration_minutes=60"
        f"&from={z(day)}&to={z(day + timedelta(days=1))}"
    )
    page = ok(stack, "GET", query, token)
    assert all(s["instructor_ids"] == [who] for s in page["items"])
    return {s["starts_at"] for s in page["items"]}


def test_availability_slots_request_assign_reschedule_complete_and_expiry(
    local_stack: LocalStack,
) -> None:
    import boto3

    from chalicelib.db import keys

    admin = local_stack.login("admin")["access_token"]
    student = local_stack.login("student")["access_token"]
    me = available_instructor(local_stack, admin)
    # The instructor replaces their own week.
    assert ok(local_stack, "PUT", f"/users/{me['id']}/availability", me["token"], WEEK) == WEEK
    title = f"Scheduling course {uuid.uuid4().hex[:8]}"
    course = ok(
        local_stack,
        "POST",
        "/courses",
        admin,
        {"title": title, "published": True, "instructor_ids": [me["id"]]},
    )["id"]

    # Free slots two days ahead: 08:00-19:00 Kathmandu starts = 02:15-13:15 UTC, every 15 min.
    day = (datetime.now(UTC) + timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
    free = offered(local_stack, student, course, me["id"], day)
    first, last = day.replace(hour=2, minute=15), day.replace(hour=13, minute=15)
    assert min(free) == z(first) and max(free) == z(last) and len(free) == 45

    # Request the 10:00 Kathmandu slot (04:15 UTC), approve, assign.
    start = day.replace(hour=4, minute=15)
    body = {"course_id": course, "starts_at": z(start), "duration_minutes": 60}
    booking = ok(local_stack, "POST", "/bookings", student, body | {"instructor_id": me["id"]})
    bid = booking["id"]
    ok(local_stack, "POST", f"/bookings/{bid}/approve", admin)
    ok(local_stack, "POST", f"/bookings/{bid}/assign", admin, {"instructor_id": me["id"]})
    taken = offered(local_stack, student, course, me["id"], day)
    assert z(start) not in taken and z(start - timedelta(minutes=45)) not in taken
    assert z(start + timedelta(minutes=60)) in taken  # back to back is fine

    # Reschedule the assigned session three hours later: the old time is free, the new one not.
    later = start + timedelta(hours=3)
    moved = ok(local_stack, "POST", f"/bookings/{bid}/reschedule", admin, {"starts_at": z(later)})
    assert moved["status"] == "assigned" and moved["starts_at"] == z(later)
    assert moved["version"] == ok(local_stack, "GET", f"/bookings/{bid}", admin)["version"]
    after = offered(local_stack, student, course, me["id"], day)
    assert z(start) in after and z(later) not in after
    # Both people hear of the move, with an invite that moves the same calendar event.
    people = {local_stack.logins["student"].email, me["email"]}

    def invites(subject: str) -> dict[str, Any]:
        from icalendar import Calendar

        found = {}
        for m in local_stack.emails():
            text = (m.get("attachments") or {}).get("invite.ics")
            if text and title in m["subject"] and m["subject"].startswith(subject):
                [event] = Calendar.from_ical(text).walk("VEVENT")
                found[m["destinations"]["ToAddresses"][0]] = event
        return found if set(found) == people else {}

    assigned_invites = local_stack.wait_for(lambda: invites("A booking was assigned"), timeout=30)
    moved_invites = local_stack.wait_for(lambda: invites("A booking was moved"), timeout=30)
    assert moved_invites, local_stack.log_text()[-3000:]
    for who in people:
        before, now = assigned_invites[who], moved_invites[who]
        assert str(now["UID"]) == str(before["UID"]) and now["SEQUENCE"] > before["SEQUENCE"]
        assert now.decoded("DTSTART") == later and before.decoded("DTSTART") == start
    # Another student's request for the new time finds nobody free.
    clash = send(local_stack, "POST", "/bookings", student, body | {"starts_at": z(later)})
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "no_availability"

    # Completing before the session starts is too early.
    early = send(local_stack, "POST", f"/bookings/{bid}/complete", me["token"])
    assert early.status_code == 409 and early.json()["error"]["code"] == "too_early"

    # A request nobody confirms expires once its start passes. Waiting for a real start would
    # take the whole notice period, so the test moves its start into the past on the emulator,
    # together with its place on the index the expiry finder reads.
    waiting = ok(
        local_stack,
        "POST",
        "/bookings",
        student,
        body | {"starts_at": z(start + timedelta(hours=6))},
    )
    past = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=15)
    tid, wid = waiting["tenant_id"], waiting["id"]
    pk, sk = keys.booking_key(tid, wid)
    ddb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=local_stack.moto_url)
    ddb.update_item(
        TableName="tutorbook-local-MainTable",
        Key={"pk": {"S": pk}, "sk": {"S": sk}},
        UpdateExpression="SET starts_at = :at, expiry_sk = :sk",
        ConditionExpression="attribute_exists(expiry_pk)",
        ExpressionAttributeValues={
            ":at": {"S": past.strftime("%Y-%m-%dT%H:%M:%S.000Z")},
            ":sk": {"S": keys.booking_expiry_sk(past.strftime("%Y-%m-%dT%H:%M:%S.000Z"), tid, wid)},
        },
    )

    def status() -> Any:
        found = ok(local_stack, "GET", f"/bookings/{wid}", admin)["status"]
        return found if found == "expired" else None

    assert local_stack.wait_for(status, timeout=30), local_stack.log_text()[-3000:]
    student_email = local_stack.logins["student"].email

    def expired_emails() -> list[dict[str, Any]]:
        return [
            m
            for m in local_stack.emails()
            if title in (m.get("subject") or "") and "expired" in (m.get("subject") or "")
        ]

    emails = local_stack.wait_for(expired_emails, timeout=30)
    assert emails, local_stack.log_text()[-3000:]
    assert [m["destinations"]["ToAddresses"] for m in emails] == [[student_email]]
    # Expired is final: nobody can approve it any more.
    late = send(local_stack, "POST", f"/bookings/{wid}/approve", admin)
    assert late.status_code == 409 and late.json()["error"]["code"] == "invalid_transition"
