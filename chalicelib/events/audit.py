"""``record_audit``: the main table's stream -> one audit entry per change (idempotent)."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.config import get_settings
from chalicelib.db.store import default_store
from chalicelib.events.batch import Failure, process_batch, stream_changes
from chalicelib.models.messages import Change
from chalicelib.observability import BatchMetrics, logger
from chalicelib.services.audit import AuditRecorder, Outcome

bp = Blueprint(__name__)

_FAILURE = Failure[Change](
    "AuditFailures", "audit entry not written", lambda c: {"event_id": c.event_id}
)


def _record(change: Change, metrics: BatchMetrics) -> str:
    outcome = AuditRecorder(default_store().audit_log()).record(change)
    if outcome is Outcome.written:
        metrics.add("AuditEntriesWritten")
        logger.info(
            "audit entry written",
            extra={
                "entity_type": change.entity_type,
                "entity_id": change.entity_id,
                "action": change.action,
                "event_id": change.event_id,
            },
        )
    elif outcome is Outcome.duplicate:
        metrics.add("AuditDuplicatesSkipped")
    return outcome.value


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return process_batch(
        event,
        context,
        function="record_audit",
        source=stream_changes(),
        handle=_record,
        failure=_FAILURE,
    )


# Deployed, the mapping starts at TRIM_HORIZON with partial-batch reports: infra/resources.json
# replaces chalice's StartingPosition (chalice requires one here) when it is merged.
@bp.on_dynamodb_record(
    stream_arn=get_settings().main_table_stream_arn, batch_size=100, starting_position="LATEST"
)
def record_audit(event: Any) -> dict[str, Any]:
    return handle(event.to_dict(), event.context)
