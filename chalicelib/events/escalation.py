"""Escalation of stale bookings.

``find_stale_bookings`` (schedule, every 5 minutes on AWS): due bookings -> escalation queue.
``escalate_bookings``: escalation queue -> ``escalated_at`` set with one conditional write.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Rate

from chalicelib.config import get_settings
from chalicelib.db.store import default_store
from chalicelib.events.batch import Failure, Finder, process_batch, queue_messages, run_finder
from chalicelib.models.messages import EscalationMessage
from chalicelib.notify.queues import escalation_queue
from chalicelib.observability import BatchMetrics, logger
from chalicelib.services.escalation import EscalationService

bp = Blueprint(__name__)


def _service() -> EscalationService:
    store = default_store()
    return EscalationService(store.escalations(), clock=store.clock)


FINDER = Finder(
    function="find_stale_bookings",
    found_metric="StaleBookingsFound",
    failure_metric="EscalationFindFailures",
    queued_log="stale bookings queued",
    failed_log="finding stale bookings failed",
)


def find() -> int:
    return run_finder(
        FINDER,
        lambda: _service().find_stale(
            escalation_queue(), limit=get_settings().escalation_find_limit
        ),
    )


def _escalate(message: EscalationMessage, metrics: BatchMetrics) -> bool:
    escalated = _service().escalate(message)
    metrics.add("BookingsEscalated" if escalated else "EscalationsAlreadyDone")
    logger.info(
        "booking escalated" if escalated else "booking already escalated or moved on",
        extra={"booking_id": message.booking_id, "status": message.status},
    )
    return escalated


def handle_messages(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return process_batch(
        event,
        context,
        function="escalate_bookings",
        source=queue_messages(EscalationMessage.model_validate_json, "escalation"),
        handle=_escalate,
        failure=Failure(
            "EscalationFailures", "escalation failed", lambda m: {"booking_id": m.booking_id}
        ),
    )


@bp.schedule(Rate(5, unit=Rate.MINUTES))
def find_stale_bookings(event: Any) -> dict[str, int]:
    return {"queued": find()}


@bp.on_sqs_message(queue=get_settings().escalation_queue, batch_size=10)
def escalate_bookings(event: Any) -> dict[str, Any]:
    return handle_messages(event.to_dict(), event.context)
