"""Shared fixtures: a fresh moto world per test, built from infra/, and the app's test client."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

pytest_plugins = ["tests.support.aws_calls"]  # which AWS calls each function makes

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "JWT_SECRET": "test-secret-" + "x" * 40,
        "STAGE": "test",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)


def _reset_caches() -> None:
    from chalicelib.config import reset_settings
    from chalicelib.db.base import configure
    from chalicelib.db.tenants import forget_slugs
    from chalicelib.secrets import reset_secrets

    reset_settings()
    reset_secrets()
    configure()
    forget_slugs()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A fresh emulated AWS account with every resource infra/resources.json defines."""
    from moto import mock_aws

    from chalicelib.local.resources import create_resources

    with mock_aws():
        env = create_resources(stage="test")
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        _reset_caches()
        yield env
    _reset_caches()


@dataclass
class Response:
    """An HTTP response as the test client received it."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def error_code(self) -> str | None:
        data = self.json
        return data["error"]["code"] if isinstance(data, dict) and "error" in data else None


class Api:
    """JSON over the Chalice test client, the way a frontend calls the API."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        raw: str | bytes | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        h = {"Content-Type": "application/json"}
        if token:
            h["Authorization"] = f"Bearer {token}"
        h.update(headers or {})
        body: Any = (
            raw if raw is not None else (json.dumps(json_body) if json_body is not None else None)
        )
        response = getattr(self.client.http, method.lower())(path, headers=h, body=body)
        headers_out = {k.lower(): v for k, v in response.headers.items()}
        return Response(response.status_code, headers_out, response.body or b"")

    def get(self, path: str, **kw: Any) -> Response:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Response:
        return self.call("POST", path, json_body=body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Response:
        return self.call("PATCH", path, json_body=body, **kw)

    def delete(self, path: str, **kw: Any) -> Response:
        return self.call("DELETE", path, **kw)


@pytest.fixture
def chalice_app(aws: dict[str, str]) -> Any:
    from app import app

    return app


@pytest.fixture
def client(chalice_app: Any) -> Iterator[Any]:
    from chalice.test import Client

    with Client(chalice_app, stage_name="local") as c:
        _reset_caches()
        yield c


@pytest.fixture
def api(client: Any) -> Api:
    return Api(client)


PASSWORD = "correct horse battery staple"


@dataclass
class TenantLogin:
    tenant: dict[str, Any]
    admin: dict[str, Any]
    token: str
    refresh: str
    slug: str


def sign_up(api: Api, slug: str, email: str = "admin@example.com") -> TenantLogin:
    r = api.post(
        "/tenants",
        {
            "name": f"Org {slug}",
            "slug": slug,
            "admin": {"email": email, "name": "Ada Admin", "password": PASSWORD},
        },
    )
    assert r.status == 201, r.body
    data = r.json
    return TenantLogin(
        tenant=data["tenant"],
        admin=data["user"],
        token=data["tokens"]["access_token"],
        refresh=data["tokens"]["refresh_token"],
        slug=slug,
    )


def add_user(
    api: Api, admin_token: str, email: str, role: str, name: str = "Someone"
) -> dict[str, Any]:
    r = api.post(
        "/users",
        {"email": email, "name": name, "role": role, "password": PASSWORD},
        token=admin_token,
    )
    assert r.status == 201, r.body
    return dict(r.json)


def login(api: Api, slug: str, email: str, password: str = PASSWORD) -> dict[str, Any]:
    r = api.post("/auth/login", {"tenant": slug, "email": email, "password": password})
    assert r.status == 200, r.body
    return dict(r.json)


@pytest.fixture
def acme(api: Api) -> TenantLogin:
    return sign_up(api, "acme")


@pytest.fixture
def globex(api: Api) -> TenantLogin:
    return sign_up(api, "globex")


class RequestCounter:
    """Counts AWS API requests by (service, operation) through botocore's event system."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def reset(self) -> None:
        self.calls.clear()

    def count(self, service: str = "dynamodb", operation: str | None = None) -> int:
        return sum(
            1 for s, o in self.calls if s == service and (operation is None or o == operation)
        )

    def operations(self, service: str = "dynamodb") -> list[str]:
        return [o for s, o in self.calls if s == service]


@pytest.fixture
def aws_requests(monkeypatch: pytest.MonkeyPatch) -> RequestCounter:
    """Every AWS request any client makes (boto3's and PynamoDB's) while the test runs.

    Wraps botocore's ``BaseClient._make_api_call``, so it counts real requests, not code paths.
    """
    import botocore.client

    counter = RequestCounter()
    original = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation_name: str, api_params: Any) -> Any:
        counter.calls.append((self.meta.service_model.service_name, operation_name))
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    return counter


class FixedClock:
    """A clock that stands still until the test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FixedClock:
    """The time every service of the app sees (routes and event functions), moved by the test.

    Stamps on stored items keep the real time, and tokens are verified against the real time:
    a token issued after the clock moved far ahead is not valid yet, so log in before.
    """
    from chalicelib.db.store import default_store

    fixed = FixedClock(datetime.now(UTC))
    monkeypatch.setattr(default_store(), "clock", fixed)
    return fixed
