"""The auth journey over real HTTP against the local stack (``python -m chalicelib.local``)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.e2e.conftest import LocalStack

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"


def call(
    stack: LocalStack,
    method: str,
    path: str,
    body: Any = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    return requests.request(method, stack.url(path), json=body, headers=h, timeout=30)


def error_code(response: requests.Response) -> str:
    return str(response.json()["error"]["code"])


def test_sign_up_login_refresh_rotation_reuse_and_logout(local_stack: LocalStack) -> None:
    s = local_stack
    r = call(
        s,
        "POST",
        "/tenants",
        {
            "name": "Journey Org",
            "slug": "journey",
            "admin": {"email": "boss@journey.example", "name": "Boss", "password": PASSWORD},
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["tenant"]["slug"] == "journey"
    assert "password_hash" not in r.json()["user"]

    r = call(
        s,
        "POST",
        "/auth/login",
        {"tenant": "journey", "email": "boss@journey.example", "password": PASSWORD},
    )
    assert r.status_code == 200, r.text
    admin_token = r.json()["access_token"]
    assert r.json()["token_type"] == "Bearer"

    r = call(
        s,
        "POST",
        "/users",
        {
            "email": "tutor@journey.example",
            "name": "Tutor",
            "role": "instructor",
            "password": PASSWORD,
        },
        token=admin_token,
    )
    assert r.status_code == 201, r.text
    assert r.json()["role"] == "instructor"

    r = call(
        s,
        "POST",
        "/auth/login",
        {"tenant": "journey", "email": "tutor@journey.example", "password": PASSWORD},
    )
    assert r.status_code == 200, r.text
    first = r.json()
    me = call(s, "GET", "/users/me", token=first["access_token"])
    assert me.status_code == 200
    assert me.json()["email"] == "tutor@journey.example"

    r = call(s, "POST", "/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]

    # The spent token again: refused, and the whole family (incl. the newer token) is revoked.
    r = call(s, "POST", "/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert r.status_code == 401
    assert error_code(r) == "unauthorized"
    r = call(s, "POST", "/auth/refresh", {"refresh_token": second["refresh_token"]})
    assert r.status_code == 401

    # A fresh login, then logout revokes it.
    r = call(
        s,
        "POST",
        "/auth/login",
        {"tenant": "journey", "email": "tutor@journey.example", "password": PASSWORD},
    )
    third = r.json()
    r = call(s, "POST", "/auth/logout", {"refresh_token": third["refresh_token"]})
    assert r.status_code == 204
    r = call(s, "POST", "/auth/refresh", {"refresh_token": third["refresh_token"]})
    assert r.status_code == 401


@pytest.mark.parametrize("role", ["admin", "instructor", "student"])
def test_seeded_demo_logins_work(local_stack: LocalStack, role: str) -> None:
    tokens = local_stack.login(role)
    me = call(local_stack, "GET", "/users/me", token=tokens["access_token"])
    assert me.status_code == 200, me.text
    assert me.json()["role"] == role
    assert me.json()["email"] == local_stack.logins[role].email


def test_correlation_id_is_echoed_or_generated(local_stack: LocalStack) -> None:
    r = call(local_stack, "GET", "/health", headers={"X-Correlation-Id": "e2e-corr-42"})
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "checks": {"dynamodb": "ok"}}
    assert r.headers["X-Correlation-Id"] == "e2e-corr-42"
    r = call(local_stack, "GET", "/health")
    assert r.headers.get("X-Correlation-Id")


def test_the_emulator_answers_on_moto_url(local_stack: LocalStack) -> None:
    r = requests.get(local_stack.moto_url + "/moto-api/data.json", timeout=30)
    assert r.status_code == 200
    assert "tutorbook-local-MainTable" in {t["name"] for t in r.json()["dynamodb"]["Table"]}


def test_a_bad_token_gets_the_error_envelope(local_stack: LocalStack) -> None:
    r = call(local_stack, "GET", "/users/me", token="not-a-jwt")
    assert r.status_code == 401
    assert error_code(r) == "unauthorized"
