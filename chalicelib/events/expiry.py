"""Expiry of bookings whose start passed while they waited for an admin.

``find_expired_bookings`` (schedule, every 5 minutes on AWS): started waiting bookings -> expiry
queue. ``expire_bookings``: expiry queue -> ``expired`` with one conditional write.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Rate

from chalicelib.config import get_settings
from chalicelib.db.store import default_store
from chalicelib.events.batch import Failure, Finder, process_batch, queue_messages, run_finder
from chalicelib.models.messages import ExpiryMessage
from chalicelib.notify.queues import expiry_queue
from chalicelib.observability import BatchMetrics, logger
from chalicelib.services.expiry import ExpiryService

bp = Blueprint(__name__)


def _service() -> ExpiryService:
    store = default_store()
    return ExpiryService(store.expiries(), clock=store.clock)


FINDER = Finder(
    function="find_expired_bookings",
    found_metric="StartedBookingsFound",
    failure_metric="ExpiryFindFailures",
    queued_log="started bookings queued for expiry",
    failed_log="finding started bookings failed",
)


def find() -> int:
    return run_finder(
        FINDER,
        lambda: _service().find_started(expiry_queue(), limit=get_settings().expiry_find_limit),
    )


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
