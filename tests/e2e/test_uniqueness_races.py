"""Uniqueness claims hold when requests race over real HTTP (transactions, not read-then-write)."""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

PASSWORD = "correct horse battery staple"


def _race(fn, n: int) -> Counter[Any]:
    with ThreadPoolExecutor(max_workers=n) as pool:
        return Counter(pool.map(lambda _: fn(), range(n)))


def test_racing_creates_of_one_email_make_one_user(local_stack):
    token = local_stack.login("admin")["access_token"]
    email = f"race-{uuid.uuid4().hex[:8]}@demo.test"

    def create() -> int:
        r = requests.post(
            local_stack.url("/users"),
            json={"email": email, "name": "Racer", "role": "student", "password": PASSWORD},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        return r.status_code

    outcome = _race(create, 8)
    assert outcome == Counter({201: 1, 409: 7})
    users = requests.get(
        local_stack.url("/users?role=student&limit=100"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()["items"]
    assert [u["email"] for u in users].count(email) == 1


def test_racing_sign_ups_of_one_slug_make_one_tenant(local_stack):
    slug = f"race-{uuid.uuid4().hex[:8]}"

    def sign_up() -> int:
        admin = {"email": f"{uuid.uuid4().hex[:6]}@x.test", "name": "A", "password": PASSWORD}
        r = requests.post(
            local_stack.url("/tenants"),
            json={"name": "Race", "slug": slug, "admin": admin},
            timeout=60,
        )
        return r.status_code

    assert _race(sign_up, 6) == Counter({201: 1, 409: 5})
