"""The audit trail: one entry per change of an audited entity, and the admin's view of it."""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from chalicelib.context import Caller
from chalicelib.errors import Forbidden
from chalicelib.models.audit import AuditEntry, AuditQuery, EntityType
from chalicelib.models.common import Page
from chalicelib.models.messages import Change

AUDITED = frozenset(EntityType)


class AuditLog(Protocol):
    """Where entries are written (``db.audit.AuditTable``; a fake in unit tests)."""

    def append(self, entry: AuditEntry, sequence: str) -> bool: ...


class AuditReader(Protocol):
    """One tenant's entries (``db.audit.AuditRepository``; a fake in unit tests)."""

    def list(
        self,
        *,
        entity_type: EntityType | None,
        entity_id: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page[AuditEntry]: ...


class Outcome(StrEnum):
    written = "written"
    duplicate = "duplicate"  # the same stream record was recorded before (a replay)
    skipped = "skipped"  # not an audited change


def entry_id(event_id: str) -> str:
    """The entry's id, derived from the stream record only (a replay maps to the same id)."""
    return hashlib.sha256(event_id.encode()).hexdigest()[:32]


def audit_entry(change: Change) -> AuditEntry | None:
    """The entry a change yields, or None when the change is not audited.

    Skipped: items that are not tenants, users, courses, modules, lessons or bookings (slugs,
    credentials, token families, slot locks ...); images without an entity type (moto's extra
    keys-only INSERT before the real one when ``update_item`` creates an item); updates that
    changed nothing (moto emits those too; DynamoDB does not).
    """
    if change.entity_type not in AUDITED or not change.entity_id or not change.tenant_id:
        return None
    if change.is_noop:
        return None
    return AuditEntry(
        id=entry_id(change.event_id),
        tenant_id=change.tenant_id,
        entity_type=EntityType(change.entity_type),
        entity_id=change.entity_id,
        action=change.action,
        actor_id=change.actor_id,
        correlation_id=change.correlation_id,
        at=datetime.fromisoformat(change.at),
        before=change.before,
        after=change.after,
    )


class AuditRecorder:
    """Turns stream changes into audit entries (idempotent on the stream record)."""

    def __init__(self, log: AuditLog) -> None:
        self.log = log

    def record(self, change: Change) -> Outcome:
        entry = audit_entry(change)
        if entry is None:
            return Outcome.skipped
        if self.log.append(entry, change.sequence):
            return Outcome.written
        return Outcome.duplicate


class AuditService:
    """GET /audit: an admin reads their own tenant's trail."""

    def __init__(self, caller: Caller, reader: AuditReader) -> None:
        if not caller.is_admin:
            raise Forbidden("Only an admin may read the audit log.")
        self.reader = reader

    def list(self, query: AuditQuery) -> Page[AuditEntry]:
        return self.reader.list(
            entity_type=query.entity_type,
            entity_id=query.entity_id,
            limit=query.limit,
            cursor=query.cursor,
        )
