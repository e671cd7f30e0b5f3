"""Expiry of bookings whose start passed while they waited for an admin.

``find_expired_bookings`` (schedule, every 5 minutes on AWS): started waiting bookings -> expiry
queue. ``expire_bookings``: expiry queue -> ``expired`` with one conditional write.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Rate

from chalicelib.config import get_settings
from chalicelib.db.store import default_store
from chalicelib.events.batch import Failure, process_batch, queue_messages
from chalicelib.models.messages import ExpiryMessage
from chalicelib.notify.queues import expiry_queue
from chalicelib.observability import BatchMetrics, logger
from chalicelib.services.expiry import ExpiryService

bp = Blueprint(__name__)


def _service() -> ExpiryService:
    store = default_store()
    return ExpiryService(store.expiries(), clock=store.clock)


def find() -> int:
    metrics = BatchMetrics("find_expired_bookings")
    try:
        queued = _service().find_started(expiry_queue(), limit=get_settings().expiry_find_limit)
        metrics.add("StartedBookingsFound", len(queued))
        logger.info(
            "started bookings queued for expiry",
            extra={
                "count": len(queued),
                "correlation_id": queued[0].correlation_id if queued else None,
            },
        )
        return len(queued)
    except Exception:
        metrics.add("ExpiryFindFailures")
        logger.exception("finding started bookings failed")
        raise
    finally:
        metrics.publish()


def _expire(message: ExpiryMessage, metrics: BatchMetrics) -> bool:
    expired = _service().expire(message)
    metrics.add("BookingsExpired" if expired else "ExpiriesSkipped")
    logger.info(
        "booking expired" if expired else "booking already expired or moved on",
        extra={"booking_id": message.booking_id, "status": message.status},
    )
    return expired


def handle_messages(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return process_batch(
        event,
        context,
        function="expire_bookings",
        source=queue_messages(ExpiryMessage.model_validate_json, "expiry"),
        handle=_expire,
        failure=Failure("ExpiryFailures", "expiry failed", lambda m: {"booking_id": m.booking_id}),
    )


@bp.schedule(Rate(5, unit=Rate.MINUTES))
def find_expired_bookings(event: Any) -> dict[str, int]:
    return {"queued": find()}


@bp.on_sqs_message(queue=get_settings().expiry_queue, batch_size=10)
def expire_bookings(event: Any) -> dict[str, Any]:
    return handle_messages(event.to_dict(), event.context)
