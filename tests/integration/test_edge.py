"""The cross-cutting HTTP rules: envelope, 400/413/422, correlation ids, CORS, no stack traces."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from chalicelib.services.users import UserService
from tests.support.accounts import new_tenant


def test_malformed_json_is_400_in_the_envelope(api, acme):
    for raw in ['{"name": ', "not json", "\xff\xfe"]:
        r = api.call("POST", "/users", raw=raw, token=acme.token)
        assert r.status == 400
        assert r.json == {
            "error": {
                "code": "bad_request",
                "message": "The request body is not valid JSON.",
                "details": [],
            }
        }


def test_non_object_bodies_are_422(api, acme):
    for raw in ["[]", '"str"', "42", "null"]:
        r = api.call("POST", "/users", raw=raw, token=acme.token)
        assert r.status == 422, raw


def test_body_over_64_kib_is_413_and_changes_nothing(api, acme):
    big = {"email": "big@acme.test", "name": "B", "role": "student", "password": "p" * 12}
    raw = json.dumps({**big, "pad": "x" * (64 * 1024)})
    r = api.call("POST", "/users", raw=raw, token=acme.token)
    assert r.status == 413 and r.error_code == "payload_too_large"
    emails = [u["email"] for u in api.get("/users", token=acme.token).json["items"]]
    assert "big@acme.test" not in emails


def test_bodies_on_routes_without_one_must_be_empty(api):
    acme = new_tenant("acme")
    r = api.post("/auth/logout", {"refresh_token": acme.refresh, "extra": 1})
    assert r.status == 422


def test_correlation_id_is_echoed_or_created(api, acme):
    r = api.get("/users/me", token=acme.token, headers={"X-Correlation-Id": "req-123"})
    assert r.headers["x-correlation-id"] == "req-123"
    r1, r2 = api.get("/health"), api.get("/health")
    assert r1.headers["x-correlation-id"] != r2.headers["x-correlation-id"]
    # Errors carry it too; a hostile value is replaced rather than reflected.
    r = api.get("/users/me", headers={"X-Correlation-Id": "bad value\r\nX-Evil: 1"})
    assert r.status == 401 and r.headers["x-correlation-id"] != "bad value\r\nX-Evil: 1"


def test_unexpected_faults_are_500_without_internals(api, acme, monkeypatch):
    def boom(self):
        raise RuntimeError("secret internal detail at /var/task/chalicelib")

    monkeypatch.setattr(UserService, "me", boom)
    r = api.get("/users/me", token=acme.token)
    assert r.status == 500
    assert r.json == {
        "error": {
            "code": "internal_error",
            "message": "Something went wrong on our side.",
            "details": [],
        }
    }
    assert "secret" not in r.body.decode() and "Traceback" not in r.body.decode()
    assert r.headers["x-correlation-id"]


def test_cors_headers_are_exposed(api):
    r = api.get("/health", headers={"Origin": "https://app.example"})
    assert r.headers["access-control-allow-origin"] == "*"
    exposed = {h.strip() for h in r.headers["access-control-expose-headers"].split(",")}
    assert {"X-Correlation-Id", "ETag", "Retry-After"} <= exposed


@pytest.fixture
def two_origins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A stage that allows two origins. The test client sets the `local` stage's variables (`*`)
    around each request, so the settings are read (and kept) before any request is made."""
    from chalicelib.config import get_settings, reset_settings

    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "https://app.example, https://admin.example")
    reset_settings()
    assert get_settings().cors_allow_origins == ["https://app.example", "https://admin.example"]
    yield
    monkeypatch.undo()
    reset_settings()


def test_configured_origins_are_echoed_only_when_allowed(api, two_origins):
    for origin in ("https://admin.example", "https://app.example"):
        r = api.get("/health", headers={"Origin": origin})
        assert r.headers["access-control-allow-origin"] == origin
        assert r.headers["vary"] == "Origin"
    r = api.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_preflight_names_the_allowed_origin_and_the_paths_methods(api, two_origins):
    preflight = {"Origin": "https://admin.example", "Access-Control-Request-Method": "PATCH"}
    r = api.call("OPTIONS", "/courses/abc", headers=preflight)
    assert r.status == 200
    assert r.headers["access-control-allow-origin"] == "https://admin.example"
    assert set(r.headers["access-control-allow-methods"].split(",")) == {
        "GET",
        "PATCH",
        "DELETE",
        "OPTIONS",
    }
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key", "if-none-match"} <= allowed
    exposed = {h.strip() for h in r.headers["access-control-expose-headers"].split(",")}
    assert {"X-Correlation-Id", "ETag", "Retry-After"} <= exposed
    r = api.call("OPTIONS", "/courses/abc", headers={**preflight, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_logs_are_json_with_correlation_id_and_tenant(api, acme, monkeypatch):
    import io

    from chalicelib.observability import logger

    def boom(self):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(UserService, "me", boom)
    out = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", out)
    api.get("/users/me", token=acme.token, headers={"X-Correlation-Id": "trace-me-42"})
    logger.error("after the request")  # the request's keys are gone from this thread
    lines = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    assert lines[-1]["message"] == "after the request"
    assert not {"correlation_id", "tenant_id", "user_id", "route"} & set(lines[-1])
    errors = [line for line in lines if line.get("level") == "ERROR"]
    assert errors, lines
    assert errors[0]["correlation_id"] == "trace-me-42"
    assert errors[0]["tenant_id"] == acme.tenant["id"]
    assert errors[0]["route"] == "GET /users/me"
