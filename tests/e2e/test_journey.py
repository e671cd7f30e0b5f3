"""Issue 5, point 5: a booking journey on the local stack (request -> approve -> assign ->
complete) yields four audit entries and the emails of API.md's table, within seconds, as a
person would see them: over HTTP, and read back from the emulator."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.e2e.conftest import LocalStack

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
    instructor = local_stack.login("instructor")["access_token"]
    me = requests.get(
        local_stack.url("/users/me"), headers={"Authorization": f"Bearer {instructor}"}, timeout=30
    ).json()
    title = f"Journey course {uuid.uuid4().hex[:8]}"
    course, _ = call(local_stack, "POST", "/courses", admin, {"title": title, "published": True})
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
    done, completed = call(local_stack, "POST", f"/bookings/{bid}/complete", instructor)
    assert done["status"] == "completed"

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
        completed,
    ]
    assert [e["after"]["status"] for e in oldest_first] == [
        "requested",
        "approved",
        "assigned",
        "completed",
    ]
    assert oldest_first[0]["actor_id"] == booking["student_id"]
    assert oldest_first[3]["actor_id"] == me["id"]

    student_email = local_stack.logins["student"].email
    instructor_email = local_stack.logins["instructor"].email
    expected = sorted(
        [
            (student_email, "Your booking request was received"),
            (student_email, "Your booking was approved"),
            (student_email, "A booking was assigned"),
            (instructor_email, "A booking was assigned"),
            (student_email, "Your session is complete"),
        ]
    )

    def journey_emails() -> list[dict[str, Any]]:
        found = [m for m in local_stack.emails() if title in (m.get("subject") or "")]
        return found if len(found) >= len(expected) else []

    emails = local_stack.wait_for(journey_emails, timeout=30)
    assert emails, local_stack.log_text()[-3000:]
    got = sorted((recipients(m)[0], m["subject"].split(":")[0]) for m in emails)
    assert got == expected  # exactly these: nothing sent twice
    iso_start = starts.isoformat().replace("+00:00", "Z")
    for m in emails:
        assert iso_start in m["subject"] and iso_start in m["body"]
        assert title in m["body"]
    # The emails were printed to the stack's console too.
    assert local_stack.wait_for(lambda: title in local_stack.log_text(), timeout=15)
