"""Booking races over real HTTP against the local stack: conditional writes and time locks hold.

Measured results are printed (run with ``-s`` to see them) and asserted exactly.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.e2e.instructors import available_instructor

N = 16


def _send(method: str, url: str, **kw: Any) -> requests.Response:
    return requests.request(method, url, **kw)


def _race(calls: list[Any]) -> list[requests.Response]:
    """Start every call at the same moment (a barrier), one thread each."""
    barrier = threading.Barrier(len(calls))

    def run(call: Any) -> requests.Response:
        barrier.wait()
        response: requests.Response = call()
        return response

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


class Client:
    def __init__(self, stack: Any, role: str) -> None:
        self.stack = stack
        self.token = stack.login(role)["access_token"]

    def post(self, path: str, body: Any = None) -> requests.Response:
        return _send(
            "POST",
            self.stack.url(path),
            json=body if body is not None else {},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=120,
        )

    def get(self, path: str) -> requests.Response:
        return _send(
            "GET",
            self.stack.url(path),
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60,
        )


@pytest.fixture(scope="module")
def people(local_stack) -> dict[str, Any]:
    admin, student = (Client(local_stack, r) for r in ("admin", "student"))
    # a fresh instructor per run (available around the clock), so reruns never collide
    me = available_instructor(local_stack, admin.token)
    instructor = Client(local_stack, "instructor")
    instructor.token = me["token"]
    title = f"Race {uuid.uuid4().hex[:6]}"
    course = admin.post(
        "/courses", {"title": title, "published": True, "instructor_ids": [me["id"]]}
    )
    assert course.status_code == 201, course.text
    return {
        "admin": admin,
        "student": student,
        "instructor": instructor,
        "instructor_id": me["id"],
        "course": course.json()["id"],
        # on the hour, inside the booking horizon
        "base": datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3),
    }


def _book(p: dict[str, Any], start: datetime, minutes: int = 60) -> dict[str, Any]:
    r = p["student"].post(
        "/bookings",
        {
            "course_id": p["course"],
            "starts_at": start.isoformat().replace("+00:00", "Z"),
            "duration_minutes": minutes,
        },
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_16_concurrent_approves_make_exactly_one_winner(people):
    booking = _book(people, people["base"])
    admin = people["admin"]
    answers = _race([lambda: admin.post(f"/bookings/{booking['id']}/approve")] * N)
    outcome = Counter(r.status_code for r in answers)
    codes = Counter(r.json()["error"]["code"] for r in answers if r.status_code == 409)
    print(f"\n16 concurrent approves: {dict(outcome)} codes={dict(codes)}")
    assert outcome == Counter({200: 1, 409: N - 1})
    assert set(codes) <= {"conflict", "invalid_transition"}
    final = admin.get(f"/bookings/{booking['id']}").json()
    assert final["status"] == "approved"
    assert final["version"] == booking["version"] + 1  # exactly one write landed


def test_racing_overlapping_assignments_of_one_instructor_make_one_winner(people):
    admin = people["admin"]
    start = people["base"] + timedelta(days=1)
    # N approved bookings, each overlapping the others (staggered by 15 minutes, 60 minutes long)
    bookings = [_book(people, start + timedelta(minutes=15 * (i % 3))) for i in range(N)]
    for b in bookings:
        assert admin.post(f"/bookings/{b['id']}/approve").status_code == 200
    body = {"instructor_id": people["instructor_id"]}
    answers = _race(
        [lambda bid=b["id"]: admin.post(f"/bookings/{bid}/assign", body) for b in bookings]
    )
    outcome = Counter(r.status_code for r in answers)
    codes = Counter(r.json()["error"]["code"] for r in answers if r.status_code == 409)
    print(f"\n16 racing overlapping assignments: {dict(outcome)} codes={dict(codes)}")
    assert outcome == Counter({200: 1, 409: N - 1})
    assert codes == Counter({"instructor_unavailable": N - 1})
    winner = next(b for b, r in zip(bookings, answers, strict=True) if r.status_code == 200)
    losers = [b for b, r in zip(bookings, answers, strict=True) if r.status_code != 200]
    assigned = people["instructor"].get("/bookings?status=assigned&limit=100").json()["items"]
    assert [b["id"] for b in assigned if b["id"] in {x["id"] for x in bookings}] == [winner["id"]]

    # cancelling the winner frees the time: a loser can now be assigned
    assert admin.post(f"/bookings/{winner['id']}/cancel", {"reason": "moved"}).status_code == 200
    answers = _race(
        [lambda bid=b["id"]: admin.post(f"/bookings/{bid}/assign", body) for b in losers[:4]]
    )
    outcome = Counter(r.status_code for r in answers)
    print(f"after cancel, 4 racing re-assignments: {dict(outcome)}")
    assert outcome == Counter({200: 1, 409: 3})


def test_racing_reschedules_onto_one_time_make_one_winner(people):
    """Four assigned sessions of one instructor move at once onto the same free hour: exactly
    one lands; the others answer instructor_unavailable and keep their own time."""
    admin = people["admin"]
    start = people["base"] + timedelta(days=2)
    body = {"instructor_id": people["instructor_id"]}
    sessions = []
    for i in range(4):
        b = _book(people, start + timedelta(hours=2 * i))
        assert admin.post(f"/bookings/{b['id']}/approve").status_code == 200
        assigned = admin.post(f"/bookings/{b['id']}/assign", body)
        assert assigned.status_code == 200, assigned.text
        sessions.append(assigned.json())
    target = (start + timedelta(hours=9)).isoformat().replace("+00:00", "Z")
    answers = _race(
        [
            lambda bid=s["id"]: admin.post(f"/bookings/{bid}/reschedule", {"starts_at": target})
            for s in sessions
        ]
    )
    outcome = Counter(r.status_code for r in answers)
    codes = Counter(r.json()["error"]["code"] for r in answers if r.status_code == 409)
    print(f"\n4 racing reschedules onto one hour: {dict(outcome)} codes={dict(codes)}")
    assert outcome == Counter({200: 1, 409: 3})
    assert codes == Counter({"instructor_unavailable": 3})
    for s, r in zip(sessions, answers, strict=True):
        now = admin.get(f"/bookings/{s['id']}").json()
        assert now == (r.json() if r.status_code == 200 else s)
    # the winner's old time is free again: a new session there can be assigned
    winner = next(s for s, r in zip(sessions, answers, strict=True) if r.status_code == 200)
    again = _book(people, datetime.fromisoformat(winner["starts_at"].replace("Z", "+00:00")))
    assert admin.post(f"/bookings/{again['id']}/approve").status_code == 200
    assert admin.post(f"/bookings/{again['id']}/assign", body).status_code == 200
