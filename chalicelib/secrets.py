"""The application secret (JWT signing, cursor signing), read once per container.

From configuration: ``JWT_SECRET`` directly (the local stack generates one per developer
machine), or ``JWT_SECRET_ARN`` naming an AWS Secrets Manager secret (deployed stages).
Never from the repository.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from chalicelib.config import get_settings


class SecretNotConfigured(RuntimeError):
    pass


@lru_cache(maxsize=1)
def app_secret() -> bytes:
    settings = get_settings()
    if settings.jwt_secret is not None:
        value = settings.jwt_secret.get_secret_value()
    elif settings.jwt_secret_arn:
        import boto3  # lazy: only deployed stages pay for this client

        client = boto3.client("secretsmanager", region_name=settings.aws_region)
        value = client.get_secret_value(SecretId=settings.jwt_secret_arn)["SecretString"]
    else:
        raise SecretNotConfigured("Set JWT_SECRET or JWT_SECRET_ARN.")
    if len(value) < 32:
        raise SecretNotConfigured("The signing secret must be at least 32 characters.")
    return value.encode()


def derived_key(purpose: str) -> bytes:
    """A separate key per purpose, so a signature made for one use is useless for another."""
    return hmac.new(app_secret(), purpose.encode(), hashlib.sha256).digest()


def reset_secrets() -> None:
    app_secret.cache_clear()
