"""Login throttling over real HTTP on the local stack: concurrent guesses cannot get past the
count, and the limit is kept per client address (the connection's peer, as API Gateway's
source IP): a lockout from one loopback address does not lock the owner out from another."""

from __future__ import annotations

import http.client
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import requests

from tests.e2e.conftest import LocalStack

PASSWORD = "correct horse battery staple"


def post_from(stack: LocalStack, source: str, path: str, body: dict[str, Any]) -> int:
    """POST from a chosen loopback source address (127.0.0.0/8 is all this machine's)."""
    url = urlsplit(stack.base_url)
    conn = http.client.HTTPConnection(
        url.hostname or "", url.port, timeout=60, source_address=(source, 0)
    )
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        return conn.getresponse().status
    finally:
        conn.close()


def sign_up(stack: LocalStack) -> tuple[str, str]:
    slug = f"race-{uuid.uuid4().hex[:8]}"
    email = f"owner@{slug}.example"
    body = {
        "name": "Race",
        "slug": slug,
        "admin": {"email": email, "name": "O", "password": PASSWORD},
    }
    r = requests.post(stack.url("/tenants"), json=body, timeout=60)
    assert r.status_code == 201, r.text
    return slug, email


def test_48_concurrent_guesses_check_at_most_5_passwords(local_stack: LocalStack):
    slug, email = sign_up(local_stack)
    guesses = [f"wrong password {n:02d}" for n in range(47)] + [PASSWORD]
    body = {"tenant": slug, "email": email}
    with ThreadPoolExecutor(max_workers=48) as pool:
        statuses = list(
            pool.map(
                lambda p: post_from(
                    local_stack, "127.0.0.3", "/auth/login", {**body, "password": p}
                ),
                guesses,
            )
        )
    checked = [s for s in statuses if s in (200, 401)]
    assert len(checked) <= 5, statuses
    assert statuses.count(429) >= 43
    assert set(statuses) <= {200, 401, 429}


def test_a_lockout_from_one_address_does_not_lock_the_owner_out(local_stack: LocalStack):
    slug, email = sign_up(local_stack)
    wrong = {"tenant": slug, "email": email, "password": "not the password!"}
    statuses = [post_from(local_stack, "127.0.0.2", "/auth/login", wrong) for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    right = {**wrong, "password": PASSWORD}
    assert post_from(local_stack, "127.0.0.2", "/auth/login", right) == 429
    assert post_from(local_stack, "127.0.0.1", "/auth/login", right) == 200
