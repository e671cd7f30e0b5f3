"""The main table's change stream, read as plain changes (only this package knows its attributes).

A DynamoDB stream record (as Lambda delivers it) becomes a :class:`Change`: the entity type, the
before / after images as plain JSON with the internal key attributes and every secret removed,
and who made the change under which request (the ``updated_by`` / ``correlation_id`` stamps).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from chalicelib.clock import iso
from chalicelib.models.audit import AuditAction
from chalicelib.models.messages import Change

#: Attributes of the single-table layout, not of the entity: never shown in images.
INTERNAL_ATTRIBUTES = frozenset(
    {
        "pk",
        "sk",
        "type",
        "gsi1pk",
        "gsi1sk",
        "gsi2pk",
        "gsi2sk",
        "gsi3pk",
        "gsi3sk",
        "gsi4pk",
        "gsi4sk",
        "gsi5pk",
        "gsi5sk",
        "gsi6pk",
        "gsi6sk",
        "due_pk",
        "start_sk",
        "due_sk",
        "expires_at",
        "expiry_pk",
        "expiry_sk",
        "remind_pk",
        "remind_sk",
    }
)
#: Bookkeeping of an item, not of the entity: an update that changes only these (the catalog's
#: tree-version bump on its course, the delete marks that name the deleter) is not a change.
BOOKKEEPING_ATTRIBUTES = frozenset(
    {"updated_at", "updated_by", "correlation_id", "tree_version", "deleting_at"}
)
#: Any attribute whose name contains one of these is a secret and never leaves this module.
SECRET_MARKERS = ("hash", "secret", "token", "password", "credential")

_deserializer = TypeDeserializer()


_ACTIONS = {
    "INSERT": AuditAction.created,
    "MODIFY": AuditAction.updated,
    "REMOVE": AuditAction.deleted,
}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(_plain(v) for v in value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if hasattr(value, "value") and isinstance(value.value, bytes):  # boto3 Binary
        return base64.b64encode(value.value).decode()
    return value


def _is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(marker in lowered for marker in SECRET_MARKERS)


def _image(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    return {k: _plain(_deserializer.deserialize(v)) for k, v in raw.items()}


def public_image(image: dict[str, Any] | None) -> dict[str, Any] | None:
    """The entity's attributes without key attributes and without secrets."""
    if image is None:
        return None
    return {k: v for k, v in image.items() if k not in INTERNAL_ATTRIBUTES and not _is_secret(k)}


def _record_time(value: Any) -> str:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, int | float | Decimal | str):
        moment = datetime.fromtimestamp(float(value), UTC)
    else:  # pragma: no cover - Lambda always sends the record's time
        raise ValueError("stream record without ApproximateCreationDateTime")
    return iso(moment)


def parse_record(record: dict[str, Any]) -> Change:
    """A stream record (the Lambda event's shape) as a :class:`Change`; raises if malformed."""
    ddb = record["dynamodb"]
    old = _image(ddb.get("OldImage"))
    new = _image(ddb.get("NewImage"))
    action = _ACTIONS[record["eventName"]]
    current = new if new is not None else old
    source = (new if action is not AuditAction.deleted else old) or {}
    entity_type = (current or {}).get("type")
    return Change(
        event_id=str(record["eventID"]),
        sequence=str(ddb["SequenceNumber"]),
        action=action,
        at=_record_time(ddb.get("ApproximateCreationDateTime")),
        entity_type=entity_type if isinstance(entity_type, str) else None,
        entity_id=_str_or_none((current or {}).get("id")),
        tenant_id=_str_or_none((current or {}).get("tenant_id")),
        actor_id=_str_or_none(source.get("updated_by")),
        correlation_id=_str_or_none(source.get("correlation_id")),
        before=public_image(old),
        after=public_image(new),
        bookkeeping_only=action is AuditAction.updated and _substance(old) == _substance(new),
    )


def _substance(image: dict[str, Any] | None) -> dict[str, Any] | None:
    public = public_image(image)
    if public is None:
        return None
    return {k: v for k, v in public.items() if k not in BOOKKEEPING_ATTRIBUTES}


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
