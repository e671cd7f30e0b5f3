"""Times in emails: local wall-clock time in the recipient's zone, named, across DST changes
and in zones with non-hour offsets; the zone is read only when an email shows a time."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.models.messages import NotificationKind, NotificationMessage, Recipient
from chalicelib.services.notifications import NotificationService
from tests.unit.fakes import FakeDirectory, FakeMailer

STUDENT = Recipient(user_id="s1", name="Sam", email="s@example.com")


def booking_email(starts_at: str, zone: str, *, own: str | None = None) -> str:
    student = STUDENT.model_copy(update={"time_zone": own})
    directory = FakeDirectory({"s1": student}, title="Algebra", time_zone=zone)
    message = NotificationMessage(
        id="n1",
        kind=NotificationKind.booking_approved,
        tenant_id="t1",
        entity_id="b1",
        entity={
            "id": "b1",
            "student_id": "s1",
            "course_id": "c1",
            "starts_at": starts_at,
            "duration_minutes": 60,
            "status": "approved",
        },
    )
    [email] = NotificationService(directory, FakeMailer()).render(message)
    assert email.subject.split(" at ", 1)[1] in email.text
    return email.subject.split(" at ", 1)[1]


@pytest.mark.parametrize(
    ("starts_at", "zone", "expected"),
    [
        # Berlin springs forward on 29 Mar 2026 and falls back on 25 Oct 2026.
        ("2026-03-28T08:00:00.000Z", "Europe/Berlin", "Sat 28 Mar 2026, 09:00 (Europe/Berlin)"),
        ("2026-03-30T08:00:00.000Z", "Europe/Berlin", "Mon 30 Mar 2026, 10:00 (Europe/Berlin)"),
        ("2026-10-24T08:00:00.000Z", "Europe/Berlin", "Sat 24 Oct 2026, 10:00 (Europe/Berlin)"),
        ("2026-10-26T08:00:00.000Z", "Europe/Berlin", "Mon 26 Oct 2026, 09:00 (Europe/Berlin)"),
        # Non-hour offsets, and a date that is already the next day there.
        ("2026-03-03T20:00:00.000Z", "Asia/Kolkata", "Wed 4 Mar 2026, 01:30 (Asia/Kolkata)"),
        ("2026-03-03T20:00:00.000Z", "Asia/Kathmandu", "Wed 4 Mar 2026, 01:45 (Asia/Kathmandu)"),
        ("2026-03-03T08:00:00.000Z", "UTC", "Tue 3 Mar 2026, 08:00 (UTC)"),
    ],
)
def test_the_tenants_zone_shows_local_wall_clock_time(starts_at, zone, expected):
    assert booking_email(starts_at, zone) == expected


def test_the_recipients_own_zone_wins_over_the_tenants():
    shown = booking_email("2026-03-03T08:00:00.000Z", "Europe/Berlin", own="America/New_York")
    assert shown == "Tue 3 Mar 2026, 03:00 (America/New_York)"


def password_changed(user: dict[str, Any], actor: str) -> tuple[str, int]:
    directory = FakeDirectory(
        {"a1": Recipient(user_id="a1", name="Ada", email="a@example.com")},
        time_zone="Asia/Tokyo",
    )
    message = NotificationMessage(
        id="n2",
        kind=NotificationKind.password_changed,
        tenant_id="t1",
        entity_id=str(user["id"]),
        actor_id=actor,
        entity=user,
    )
    [email] = NotificationService(directory, FakeMailer()).render(message)
    return email.text, directory.lookups


def test_an_account_email_reads_the_tenants_zone_only_when_it_needs_it():
    user = {
        "id": "u1",
        "email": "u@example.com",
        "name": "U",
        "pw_changed_at": "2026-03-03T08:00:00.000Z",
    }
    text, reads = password_changed(dict(user, time_zone="Europe/Berlin"), actor="u1")
    assert "Tue 3 Mar 2026, 09:00 (Europe/Berlin)" in text and reads == 0
    text, reads = password_changed(user, actor="u1")  # no zone of their own: the tenant's
    assert "Tue 3 Mar 2026, 17:00 (Asia/Tokyo)" in text and reads == 1
    text, reads = password_changed(dict(user, time_zone="Europe/Berlin"), actor="a1")
    assert "(Europe/Berlin)" in text and reads == 1  # the admin's name: one read either way
