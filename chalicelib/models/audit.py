"""Audit log schemas (entries are written from the change stream, read through GET /audit)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict

from chalicelib.models import examples as ex
from chalicelib.models.common import Id, ListQuery, Out


class EntityType(StrEnum):
    """The entity types whose every change is audited (the main table's ``type`` values)."""

    tenant = "tenant"
    user = "user"
    course = "course"
    module = "module"
    lesson = "lesson"
    booking = "booking"


class AuditAction(StrEnum):
    created = "created"
    updated = "updated"
    deleted = "deleted"


class AuditEntry(Out):
    model_config = ConfigDict(json_schema_extra={"examples": [ex.AUDIT_ENTRY]})

    id: str
    tenant_id: str
    entity_type: EntityType
    entity_id: str
    action: AuditAction
    actor_id: str | None = None
    correlation_id: str | None = None
    at: datetime
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class AuditQuery(ListQuery):
    entity_type: EntityType | None = None
    entity_id: Id | None = None
