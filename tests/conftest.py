"""Shared fixtures: an empty emulated AWS account per test, the app's test client, fast
tenants, request counting and a movable clock. Helpers live in ``tests/support/``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.accounts import PASSWORD, TenantLogin, new_tenant
from tests.support.clock import FixedClock
from tests.support.counting import RequestCounter
from tests.support.emulator import emulator, fresh_world, reset_app_caches
from tests.support.http import Api

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

__all__ = ["PASSWORD", "Api", "FixedClock", "TenantLogin"]


@pytest.fixture(scope="session")
def _moto() -> Iterator[Any]:
    with emulator() as mock:
        yield mock


@pytest.fixture
def aws(_moto: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """An empty emulated AWS account with every resource infra/resources.json defines."""
    env = fresh_world(_moto)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_app_caches()
    yield env
    _moto.reset()  # nothing of this world outlives the test (in-process servers share moto)
    monkeypatch.undo()
    reset_app_caches()


@pytest.fixture
def chalice_app(aws: dict[str, str]) -> Any:
    from app import app

    return app


@pytest.fixture
def client(chalice_app: Any) -> Iterator[Any]:
    from chalice.test import Client

    with Client(chalice_app, stage_name="local") as c:
        reset_app_caches()
        yield c


@pytest.fixture
def api(client: Any) -> Api:
    return Api(client)


@pytest.fixture
def acme(aws: dict[str, str]) -> TenantLogin:
    return new_tenant("acme")


@pytest.fixture
def globex(aws: dict[str, str]) -> TenantLogin:
    return new_tenant("globex")


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
