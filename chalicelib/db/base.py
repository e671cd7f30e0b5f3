"""PynamoDB base models for the main table (single-table design, one discriminator)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pynamodb.attributes import (
    DiscriminatorAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.connection import Connection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.clock import iso, utcnow
from chalicelib.config import get_settings
from chalicelib.context import Actor

#: DynamoDB's code for a write whose condition did not hold (per transaction item; single writes
#: answer it with an ``Exception`` suffix).
CONDITION_FAILED = "ConditionalCheckFailed"
#: DynamoDB's code for a write that lost to a concurrent transaction on the same item.
TRANSACTION_CONFLICT = "TransactionConflict"


class _Gsi1(GlobalSecondaryIndex["MainItem"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class _Gsi2(GlobalSecondaryIndex["MainItem"]):
    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class _Gsi3(GlobalSecondaryIndex["MainItem"]):
    class Meta:
        index_name = "gsi3"
        projection = AllProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class _Due(GlobalSecondaryIndex["MainItem"]):
    """Sparse work-queue index: only items that are waiting for something carry due_pk."""

    class Meta:
        index_name = "due"
        projection = AllProjection()

    due_pk = UnicodeAttribute(hash_key=True)
    due_sk = UnicodeAttribute(range_key=True)


class MainItem(Model):
    """Every item of the main table. ``type`` names the entity (and the audit entity type)."""

    class Meta:
        table_name = get_settings().main_table
        region = get_settings().aws_region
        connect_timeout_seconds = get_settings().dynamodb_connect_timeout_seconds
        read_timeout_seconds = get_settings().dynamodb_read_timeout_seconds
        max_retry_attempts = get_settings().dynamodb_max_retry_attempts

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    type = DiscriminatorAttribute(attr_name="type")
    tenant_id = UnicodeAttribute(null=True)

    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    due_pk = UnicodeAttribute(null=True)
    due_sk = UnicodeAttribute(null=True)

    created_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)
    correlation_id = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)

    gsi1 = _Gsi1()
    gsi2 = _Gsi2()
    gsi3 = _Gsi3()
    due = _Due()

    def stamp(self, actor: Actor, *, created: bool = False) -> None:
        """Record who changed the item and under which request (read by the audit stream)."""
        now = iso(utcnow())
        if created or self.created_at is None:
            self.created_at = now
        self.updated_at = now
        self.updated_by = actor.user_id
        self.correlation_id = actor.correlation_id


def stamp_actions(actor: Actor) -> list[Any]:
    """The SET actions that stamp an ``update()`` the way :meth:`MainItem.stamp` stamps a save."""
    return [
        MainItem.updated_at.set(iso(utcnow())),
        MainItem.updated_by.set(actor.user_id) if actor.user_id else MainItem.updated_by.remove(),
        MainItem.correlation_id.set(actor.correlation_id)
        if actor.correlation_id
        else MainItem.correlation_id.remove(),
    ]


def batch_get(wanted: list[tuple[str, str]], *, consistent: bool = False) -> list[MainItem]:
    """Items of the main table by (pk, sk) in one BatchGetItem (PynamoDB retries the keys
    DynamoDB left unprocessed and asks for duplicates once), each as its entity's item class."""
    if not wanted:
        return []
    return list(MainItem.batch_get(wanted, consistent_read=consistent))


def apply_client_limits(meta: Any) -> None:
    """Short timeouts and few retries on a model's DynamoDB client, so an unreachable or
    hanging database fails a request within seconds (answered 503) instead of a minute."""
    settings = get_settings()
    meta.connect_timeout_seconds = settings.dynamodb_connect_timeout_seconds
    meta.read_timeout_seconds = settings.dynamodb_read_timeout_seconds
    meta.max_retry_attempts = settings.dynamodb_max_retry_attempts


@lru_cache(maxsize=4)
def _connection(region: str) -> Connection:
    settings = get_settings()
    return Connection(
        region=region,
        connect_timeout_seconds=settings.dynamodb_connect_timeout_seconds,
        read_timeout_seconds=settings.dynamodb_read_timeout_seconds,
        max_retry_attempts=settings.dynamodb_max_retry_attempts,
    )


def connection() -> Connection:
    """PynamoDB's public connection to the configured region (for transactions)."""
    return _connection(get_settings().aws_region)


_configured: tuple[object, ...] | None = None


def configure() -> None:
    """Point every model at the configured table and client limits (tests and the local stack
    change them).

    Nothing is rebuilt while the table, region, endpoint and limits stay the same: a client
    costs tens of milliseconds to build, and tests call this between every two worlds.
    """
    global _configured
    settings = get_settings()
    wanted = (
        settings.main_table,
        settings.aws_region,
        settings.aws_endpoint_url,
        settings.dynamodb_connect_timeout_seconds,
        settings.dynamodb_read_timeout_seconds,
        settings.dynamodb_max_retry_attempts,
    )
    if wanted == _configured:
        return
    for model in _all_models():
        model.Meta.table_name = settings.main_table
        model.Meta.region = settings.aws_region
        apply_client_limits(model.Meta)
        model._connection = None
    _connection.cache_clear()
    _configured = wanted


def _all_models() -> list[type[Model]]:
    seen: list[type[Model]] = []
    stack: list[type[Model]] = [MainItem]
    while stack:
        cls = stack.pop()
        seen.append(cls)
        stack.extend(cls.__subclasses__())
    return seen


def is_condition_failure(exc: Exception) -> bool:
    """True when a PynamoDB write failed on its condition (not on throttling or a fault)."""
    return getattr(exc, "cause_response_code", None) == f"{CONDITION_FAILED}Exception"


def is_write_conflict(exc: Exception) -> bool:
    """True when a single write lost to a concurrent transaction on the same item (DynamoDB
    answers ``TransactionConflict``; botocore does not retry it): a lost race, answered 409."""
    return getattr(exc, "cause_response_code", None) == f"{TRANSACTION_CONFLICT}Exception"


def probe() -> bool:
    """Whether the main table answers: one GetItem of a key that never exists (half a read
    unit, bounded by the client's short timeouts). For ``GET /health``."""
    try:
        MainItem.get("HEALTH#probe", "HEALTH")
    except MainItem.DoesNotExist:
        return True
    except Exception:  # noqa: BLE001 - any failure means "not answering"; the caller reports it
        return False
    return True
