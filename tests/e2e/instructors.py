"""A fresh instructor on the local stack who works around the clock, so a test's bookings do
not depend on the demo data's availability (or on other tests' sessions)."""

from __future__ import annotations

import uuid
from typing import Any

import requests

from tests.e2e.conftest import LocalStack

ALWAYS = {
    "time_zone": "UTC",
    "weekly": [
        {"day": d, "start": "00:00", "end": "24:00"}
        for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    ],
}
PASSWORD = "an instructor's long passphrase"


def available_instructor(stack: LocalStack, admin_token: str) -> dict[str, Any]:
    """Create an instructor (as the demo admin), log them in and give them availability:
    answers their User with ``token`` (an access token) added."""
    auth = {"Authorization": f"Bearer {admin_token}"}
    email = f"teacher-{uuid.uuid4().hex[:10]}@demo.example"
    user = {"email": email, "name": "Tess Teacher", "role": "instructor", "password": PASSWORD}
    r = requests.post(stack.url("/users"), json=user, headers=auth, timeout=30)
    assert r.status_code == 201, r.text
    me = dict(r.json())
    r = requests.put(
        stack.url(f"/users/{me['id']}/availability"), json=ALWAYS, headers=auth, timeout=30
    )
    assert r.status_code == 200, r.text
    login = {"tenant": stack.tenant, "email": email, "password": PASSWORD}
    r = requests.post(stack.url("/auth/login"), json=login, timeout=30)
    assert r.status_code == 200, r.text
    return me | {"token": r.json()["access_token"]}


def published_course(
    stack: LocalStack, admin_token: str, teacher: dict[str, Any], name: str
) -> dict[str, Any]:
    """Create a published course taught by ``teacher`` (as the demo admin), titled ``name``
    and a random suffix (so emails about it can be told apart): answers the Course."""
    auth = {"Authorization": f"Bearer {admin_token}"}
    body = {
        "title": f"{name} {uuid.uuid4().hex[:8]}",
        "published": True,
        "instructor_ids": [teacher["id"]],
    }
    r = requests.post(stack.url("/courses"), json=body, headers=auth, timeout=30)
    assert r.status_code == 201, r.text
    return dict(r.json())
