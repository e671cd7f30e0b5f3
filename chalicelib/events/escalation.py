"""Escalation of stale bookings.

``find_stale_bookings`` (schedule, every 5 minutes on AWS): due bookings -> escalation queue.
``escalate_bookings``: escalation queue -> ``escalated_at`` set with one conditional write.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Blueprint, Rate

from chalicelib.clock import utcnow
from chalicelib.config import get_settings
from chalicelib.db.escalation import DynamoEscalations
from chalicelib.events._common import log_context, run_batch, sqs_processor
from chalicelib.models.messages import EscalationMessage
from chalicelib.notify.queues import escalation_queue
from chalicelib.observability import BatchMetrics, logger
from chalicelib.services.escalation import EscalationService

bp = Blueprint(__name__)


def find(now: Any = None) -> int:
    metrics = BatchMetrics("find_stale_bookings")
    try:
        service = EscalationService(DynamoEscalations())
        queued = service.find_stale(
            now or utcnow(), escalation_queue(), limit=get_settings().escalation_find_limit
        )
        metrics.add("StaleBookingsFound", len(queued))
        logger.info(
            "stale bookings queued",
            extra={
                "count": len(queued),
                "correlation_id": queued[0].correlation_id if queued else None,
            },
        )
        return len(queued)
    except Exception:
        metrics.add("EscalationFindFailures")
        logger.exception("finding stale bookings failed")
        raise
    finally:
        metrics.publish()


def handle_messages(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    metrics = BatchMetrics("escalate_bookings")
    service = EscalationService(DynamoEscalations())

    def record_handler(record: SQSRecord) -> bool:
        try:
            message = EscalationMessage.model_validate_json(record.body)
        except ValueError:
            metrics.add("EscalationFailures")
            logger.exception("malformed escalation message", extra={"sqs_id": record.message_id})
            raise
        with log_context(correlation_id=message.correlation_id, tenant_id=message.tenant_id):
            try:
                escalated = service.escalate(message, utcnow())
            except Exception:
                metrics.add("EscalationFailures")
                logger.exception("escalation failed", extra={"booking_id": message.booking_id})
                raise
            metrics.add("BookingsEscalated" if escalated else "EscalationsAlreadyDone")
            logger.info(
                "booking escalated" if escalated else "booking already escalated or moved on",
                extra={"booking_id": message.booking_id, "status": message.status},
            )
            return escalated

    return run_batch(event, context, sqs_processor(), record_handler, metrics)


@bp.schedule(Rate(5, unit=Rate.MINUTES))
def find_stale_bookings(event: Any) -> dict[str, int]:
    return {"queued": find()}


@bp.on_sqs_message(queue=get_settings().escalation_queue, batch_size=10)
def escalate_bookings(event: Any) -> dict[str, Any]:
    return handle_messages(event.to_dict(), event.context)
