"""``record_audit``: the main table's stream -> one audit entry per change (idempotent)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from chalice import Blueprint

from chalicelib.config import get_settings
from chalicelib.db.audit import AuditTable
from chalicelib.events._common import StreamBatchProcessor, log_context, read_change, run_batch
from chalicelib.observability import BatchMetrics, logger
from chalicelib.services.audit import AuditRecorder, Outcome

bp = Blueprint(__name__)


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    recorder = AuditRecorder(AuditTable())
    metrics = BatchMetrics("record_audit")

    def record_handler(record: DynamoDBRecord) -> str:
        change = read_change(record, metrics, "AuditFailures")
        with log_context(correlation_id=change.correlation_id, tenant_id=change.tenant_id):
            try:
                outcome = recorder.record(change)
            except Exception:
                metrics.add("AuditFailures")
                logger.exception("audit entry not written", extra={"event_id": change.event_id})
                raise
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

    return run_batch(event, context, StreamBatchProcessor(), record_handler, metrics)


@bp.on_dynamodb_record(
    stream_arn=get_settings().main_table_stream_arn, batch_size=100, starting_position="LATEST"
)
def record_audit(event: Any) -> dict[str, Any]:
    return handle(event.to_dict(), event.context)
