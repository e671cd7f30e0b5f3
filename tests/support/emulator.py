"""The emulated AWS account the in-process tests run against.

One ``mock_aws`` lives for the whole test session (per pytest-xdist worker): starting moto
resets boto3's default session, so a mock per test would reload every service model and
rebuild every client. Each test still gets an empty account: :func:`fresh_world` answers the
resources of ``infra/resources.json`` with nothing in them (same names, so the app's clients and
PynamoDB connections stay valid from one test to the next).

Creating the tables (indexes, streams, TTL) and queues was most of a test's setup, so they are
created once and afterwards only emptied, in place, as long as the world still has exactly the
tables and queues it was created with; any other change (a test deleted a table, made a queue)
falls back to wiping every backend and creating them again.
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


#: The world :func:`fresh_world` last created: its environment and what it held then.
_created: tuple[dict[str, str], frozenset[str], frozenset[str]] | None = None
_REGION = "us-east-1"
_ACCOUNT = "123456789012"


def _backends() -> tuple[Any, Any, Any, Any]:
    from moto.dynamodb.models import dynamodb_backends
    from moto.secretsmanager.models import secretsmanager_backends
    from moto.ses.models import ses_backends
    from moto.sqs.models import sqs_backends

    return (
        dynamodb_backends[_ACCOUNT][_REGION],
        sqs_backends[_ACCOUNT][_REGION],
        ses_backends[_ACCOUNT][_REGION],
        secretsmanager_backends[_ACCOUNT][_REGION],
    )


def _emptied_in_place() -> bool:
    """Empty the created world's tables, streams, queues, sent mail and secrets (tests make
    their own); False (and nothing touched) when its tables or queues are no longer exactly
    the ones it was created with."""
    if _created is None:
        return False
    _, tables, queues = _created
    ddb, sqs, ses, secrets = _backends()
    if frozenset(ddb.tables) != tables or frozenset(sqs.queues) != queues:
        return False
    from chalicelib.local.emulator import changed

    for table in ddb.tables.values():
        table.items.clear()
        changed(table)  # the local emulator's index buckets, when it is installed
        if table.stream_shard is not None:
            table.stream_shard.items = []
    for queue in sqs.queues.values():
        queue._messages.clear()
        queue._pending_messages.clear()
        queue.deleted_messages.clear()
    ses.sent_messages.clear()
    ses.sent_message_count = 0
    secrets.reset()
    return True


def fresh_world(mock: Any) -> dict[str, str]:
    """An account holding the infra resources and nothing in them; answers their env."""
    global _created
    from chalicelib.local.resources import create_resources

    if _created is not None and _emptied_in_place():
        return dict(_created[0])
    mock.reset()
    env = create_resources(stage=STAGE)
    ddb, sqs, _, _ = _backends()
    _created = (env, frozenset(ddb.tables), frozenset(sqs.queues))
    return dict(env)


def empty_world(mock: Any) -> None:
    """Nothing of the test's world outlives it: emptied in place, or every backend wiped."""
    global _created
    if not _emptied_in_place():
        mock.reset()
        _created = None


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
