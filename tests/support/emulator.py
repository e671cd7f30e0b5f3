"""The emulated AWS account the in-process tests run against.

One ``mock_aws`` lives for the whole test session (per pytest-xdist worker): starting moto
resets boto3's default session, so a mock per test would reload every service model and
rebuild every client. Each test still gets an empty account: :func:`fresh_world` wipes every
emulated backend and creates the resources of ``infra/resources.json`` again (same names, so the
app's clients and PynamoDB connections stay valid from one test to the next).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

STAGE = "test"


def reset_app_caches() -> None:
    """Forget what the app caches from the environment (settings, secret, tables, slugs)."""
    from chalicelib.config import reset_settings
    from chalicelib.db.base import configure
    from chalicelib.db.tenants import forget_slugs
    from chalicelib.secrets import reset_secrets

    reset_settings()
    reset_secrets()
    configure()
    forget_slugs()


@contextmanager
def emulator() -> Iterator[Any]:
    """moto for the duration of the block; the caller resets it between tests."""
    from moto import mock_aws

    mock = mock_aws()
    mock.start()
    try:
        yield mock
    finally:
        mock.stop()


def fresh_world(mock: Any) -> dict[str, str]:
    """Wipe every emulated backend, create the infra resources again; answers their env."""
    from chalicelib.local.resources import create_resources

    mock.reset()
    return create_resources(stage=STAGE)


@contextmanager
def isolated_emulator() -> Iterator[Any]:
    """moto for the block, empty at its start and wiped at its end, also when the session's
    ``mock_aws`` is already running (a nested ``mock_aws()`` alone would share its data)."""
    from moto import mock_aws

    mock = mock_aws()
    mock.start()
    mock.reset()
    try:
        yield mock
    finally:
        mock.reset()
        mock.stop()
