"""The application secret (JWT signing, cursor signing).

From configuration: ``JWT_SECRET`` directly (the local stack generates one per developer
machine), or ``JWT_SECRET_ARN`` naming an AWS Secrets Manager secret (deployed stages). Never
from the repository or the deployment template.

The Secrets Manager value is read through Powertools parameters (``get_secret``), which keeps
it for ``JWT_SECRET_CACHE_SECONDS`` (default 5 minutes): a warm function asks Secrets Manager
at most once per lifetime, and a rotated secret is in use within one lifetime, without a cold
start.
"""

from __future__ import annotations

import hashlib
import hmac

from chalicelib.config import get_settings


class SecretNotConfigured(RuntimeError):
    pass


def app_secret() -> bytes:
    settings = get_settings()
    if settings.jwt_secret is not None:
        value = settings.jwt_secret.get_secret_value()
    elif settings.jwt_secret_arn:
        # Lazy: only deployed stages pay for the parameters utility and its client.
        from aws_lambda_powertools.utilities.parameters import get_secret

        stored = get_secret(settings.jwt_secret_arn, max_age=settings.jwt_secret_cache_seconds)
        value = stored.decode() if isinstance(stored, bytes) else str(stored or "")
    else:
        raise SecretNotConfigured("Set JWT_SECRET or JWT_SECRET_ARN.")
    if len(value) < 32:
        raise SecretNotConfigured("The signing secret must be at least 32 characters.")
    return value.encode()


def derived_key(purpose: str) -> bytes:
    """A separate key per purpose, so a signature made for one use is useless for another."""
    return hmac.new(app_secret(), purpose.encode(), hashlib.sha256).digest()


def reset_secrets() -> None:
    """Forget every secret read so far (and the Secrets Manager client that read it)."""
    from aws_lambda_powertools.utilities.parameters import constants

    constants.DEFAULT_PROVIDERS.clear()  # what parameters.clear_caches() does (it is untyped)
