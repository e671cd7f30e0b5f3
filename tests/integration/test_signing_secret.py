"""The signing secret on a deployed stage: read from Secrets Manager through Powertools
parameters, once per cache lifetime, so a rotation is in use without a cold start."""

from __future__ import annotations

from collections.abc import Callable

import boto3
import pytest

from tests.support.accounts import PASSWORD, sign_up
from tests.support.counting import RequestCounter
from tests.support.http import Api

Rotate = Callable[[str], None]


@pytest.fixture
def secret(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Callable[[int], Rotate]:
    """Serve the app's secret from Secrets Manager with the given cache lifetime; answers a
    function that rotates it."""

    def configure(cache_seconds: int) -> Rotate:
        from chalicelib.config import reset_settings
        from chalicelib.secrets import reset_secrets

        manager = boto3.client("secretsmanager", region_name="us-east-1")
        arn = manager.create_secret(Name="tutorbook/test/jwt", SecretString="first-" + "s" * 40)[
            "ARN"
        ]
        monkeypatch.delenv("JWT_SECRET")
        monkeypatch.setenv("JWT_SECRET_ARN", arn)
        monkeypatch.setenv("JWT_SECRET_CACHE_SECONDS", str(cache_seconds))
        reset_settings()
        reset_secrets()

        def rotate(value: str) -> None:
            manager.put_secret_value(SecretId=arn, SecretString=value)

        return rotate

    return configure


def test_a_warm_function_reads_the_secret_once_per_cache_lifetime(
    secret: Callable[[int], Rotate], api: Api, aws_requests: RequestCounter
) -> None:
    rotate = secret(300)
    acme = sign_up(api, "acme")
    for _ in range(3):
        assert api.get("/users/me", token=acme.token).status == 200
    assert aws_requests.count("secretsmanager", "GetSecretValue") == 1
    # Rotated, but still within the lifetime: the cached secret still verifies the token.
    rotate("second-" + "s" * 40)
    assert api.get("/users/me", token=acme.token).status == 200
    assert aws_requests.count("secretsmanager", "GetSecretValue") == 1


def test_a_rotated_secret_is_used_once_the_cache_lifetime_is_over(
    secret: Callable[[int], Rotate], api: Api
) -> None:
    rotate = secret(0)
    acme = sign_up(api, "acme")
    assert api.get("/users/me", token=acme.token).status == 200

    rotate("second-" + "s" * 40)

    # Tokens signed with the old secret stop working; new logins work with the new one.
    assert api.get("/users/me", token=acme.token).status == 401
    r = api.post(
        "/auth/login", {"tenant": "acme", "email": "admin@example.com", "password": PASSWORD}
    )
    assert r.status == 200
    assert api.get("/users/me", token=r.json["access_token"]).status == 200
