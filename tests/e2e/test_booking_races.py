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
    admin, student, instructor = (
        Client(local_stack, r) for r in ("admin", "student", "instructor")
    )
    course = admin.post("/courses", {"title": f"Race {uuid.uuid4().hex[:6]}", "published": True})
    assert course.status_code == 201, course.text
    me = instructor.get("/users/me").json()
    return {
        "admin": admin,
        "student": student,
        "instructor": instructor,
        "instructor_id": me["id"],
        "course": course.json()["id"],
        # far in the future and unique per run, so reruns on a kept emulator never collide
        "base": datetime(2090, 1, 1, tzinfo=UTC) + timedelta(days=uuid.uuid4().int % 100000),
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
    # N approved bookings, each overlapping the others (staggered by 5 minutes, 60 minutes long)
    bookings = [_book(people, start + timedelta(minutes=5 * (i % 3))) for i in range(N)]
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
