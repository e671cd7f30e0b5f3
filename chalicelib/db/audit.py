"""The audit table: append-only, written by the stream consumer only, read by GET /audit.

Keys (``db/keys.py``, "audit" section): one partition per tenant sorted by time (all entries),
gsi1 per tenant and entity type, gsi2 per tenant and entity id; each list is one Query per page.
The only write is a conditional put: nothing here updates or deletes an entry.
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.clock import iso
from chalicelib.config import get_settings
from chalicelib.db import keys
from chalicelib.db.base import apply_client_limits, is_condition_failure
from chalicelib.db.pages import decode_cursor, encode_cursor
from chalicelib.models.audit import AuditEntry, EntityType
from chalicelib.models.common import Page


class _ByType(GlobalSecondaryIndex["AuditItem"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class _ByEntity(GlobalSecondaryIndex["AuditItem"]):
    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class AuditItem(Model):
    class Meta:
        table_name = get_settings().audit_table
        region = get_settings().aws_region
        connect_timeout_seconds = get_settings().dynamodb_connect_timeout_seconds
        read_timeout_seconds = get_settings().dynamodb_read_timeout_seconds
        max_retry_attempts = get_settings().dynamodb_max_retry_attempts

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    gsi2pk = UnicodeAttribute()
    gsi2sk = UnicodeAttribute()

    entry_id = UnicodeAttribute(attr_name="id")
    tenant_id = UnicodeAttribute()
    entity_type = UnicodeAttribute()
    entity_id = UnicodeAttribute()
    action = UnicodeAttribute()
    actor_id = UnicodeAttribute(null=True)
    correlation_id = UnicodeAttribute(null=True)
    at = UnicodeAttribute()
    before = JSONAttribute(null=True)
    after = JSONAttribute(null=True)

    by_type = _ByType()
    by_entity = _ByEntity()


def _configure() -> None:
    """Follow the configured table (tests and the local stack change it between runs)."""
    settings = get_settings()
    if (AuditItem.Meta.table_name, AuditItem.Meta.region) != (
        settings.audit_table,
        settings.aws_region,
    ):
        AuditItem.Meta.table_name = settings.audit_table
        AuditItem.Meta.region = settings.aws_region
        apply_client_limits(AuditItem.Meta)
        AuditItem._connection = None


def _entry(item: AuditItem) -> AuditEntry:
    return AuditEntry(
        id=item.entry_id,
        tenant_id=item.tenant_id,
        entity_type=item.entity_type,
        entity_id=item.entity_id,
        action=item.action,
        actor_id=item.actor_id,
        correlation_id=item.correlation_id,
        at=item.at,
        before=item.before,
        after=item.after,
    )


def append_entry(entry: AuditEntry, sequence: str) -> bool:
    """Write one entry unless its stream record was written before. True when it was new."""
    _configure()
    at = iso(entry.at)
    pk, sk = keys.audit_key(entry.tenant_id, at, sequence, entry.id)
    item = AuditItem(
        pk,
        sk,
        gsi1pk=keys.audit_type_index_pk(entry.tenant_id, entry.entity_type.value),
        gsi1sk=sk,
        gsi2pk=keys.audit_entity_index_pk(entry.tenant_id, entry.entity_id),
        gsi2sk=sk,
        entry_id=entry.id,
        tenant_id=entry.tenant_id,
        entity_type=entry.entity_type.value,
        entity_id=entry.entity_id,
        action=entry.action.value,
        actor_id=entry.actor_id,
        correlation_id=entry.correlation_id,
        at=at,
        before=entry.before,
        after=entry.after,
    )
    try:
        item.save(condition=AuditItem.pk.does_not_exist())
    except PutError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


class AuditRepository:
    """The audit entries of one tenant (read-only)."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id

    def list(
        self,
        *,
        entity_type: EntityType | None,
        entity_id: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page[AuditEntry]:
        """Newest first; exactly one Query per page, on the table or the index that fits."""
        _configure()
        scope = f"audit:{entity_type.value if entity_type else '*'}:{entity_id or '*'}"
        start = decode_cursor(cursor, tenant_id=self.tenant_id, scope=scope)
        if entity_id is not None:
            results = AuditItem.by_entity.query(
                keys.audit_entity_index_pk(self.tenant_id, entity_id),
                scan_index_forward=False,
                limit=limit,
                page_size=limit,
                last_evaluated_key=start,
            )
        elif entity_type is not None:
            results = AuditItem.by_type.query(
                keys.audit_type_index_pk(self.tenant_id, entity_type.value),
                scan_index_forward=False,
                limit=limit,
                page_size=limit,
                last_evaluated_key=start,
            )
        else:
            results = AuditItem.query(
                keys.audit_pk(self.tenant_id),
                scan_index_forward=False,
                limit=limit,
                page_size=limit,
                last_evaluated_key=start,
            )
        items = [_entry(i) for i in results]
        if entity_type is not None:
            # Ids are unique across entity types; this only guards a mismatched pair of filters.
            items = [i for i in items if i.entity_type is entity_type]
        return Page[AuditEntry](
            items=items,
            next_cursor=encode_cursor(
                results.last_evaluated_key, tenant_id=self.tenant_id, scope=scope
            ),
        )


class AuditTable:
    """The writer the stream consumer uses (``services.audit.AuditLog``)."""

    def append(self, entry: AuditEntry, sequence: str) -> bool:
        return append_entry(entry, sequence)
