"""Reminders of assigned sessions, a set time before they start.

``find_due_reminders`` (schedule, every minute on AWS): due reminders -> reminder queue.
``send_reminders``: reminder queue -> the session marked reminded for its start with one
conditional write (the emails follow from the stream through the notification sender).
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Rate

from chalicelib.config import get_settings
from chalicelib.db.store import default_store
from chalicelib.events.batch import Failure, Finder, process_batch, queue_messages, run_finder
from chalicelib.models.bookings import ReminderOutcome
from chalicelib.models.messages import ReminderMessage
from chalicelib.notify.queues import reminder_queue
from chalicelib.observability import BatchMetrics, logger
from chalicelib.services.reminders import ReminderService

bp = Blueprint(__name__)


def _service() -> ReminderService:
    store = default_store()
    return ReminderService(store.reminders(), clock=store.clock)


FINDER = Finder(
    function="find_due_reminders",
    found_metric="DueRemindersFound",
    failure_metric="ReminderFindFailures",
    queued_log="due reminders queued",
    failed_log="finding due reminders failed",
)

_METRIC = {
    ReminderOutcome.sent: "RemindersMarked",
    ReminderOutcome.missed: "RemindersMissed",
    ReminderOutcome.skipped: "RemindersSkipped",
}
_LOG = {
    ReminderOutcome.sent: "session marked reminded",
    ReminderOutcome.missed: "session already started: reminder dropped",
    ReminderOutcome.skipped: "reminder already sent, or the session moved on",
}


def find() -> int:
    return run_finder(
        FINDER,
        lambda: _service().find_due(reminder_queue(), limit=get_settings().reminder_find_limit),
    )


def _remind(message: ReminderMessage, metrics: BatchMetrics) -> ReminderOutcome:
    outcome = _service().remind(message)
    metrics.add(_METRIC[outcome])
    logger.info(
        _LOG[outcome], extra={"booking_id": message.booking_id, "starts_at": message.starts_at}
    )
    return outcome


def handle_messages(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return process_batch(
        event,
        context,
        function="send_reminders",
        source=queue_messages(ReminderMessage.model_validate_json, "reminder"),
        handle=_remind,
        failure=Failure(
            "ReminderFailures", "reminder failed", lambda m: {"booking_id": m.booking_id}
        ),
    )


@bp.schedule(Rate(1, unit=Rate.MINUTES))
def find_due_reminders(event: Any) -> dict[str, int]:
    return {"queued": find()}


@bp.on_sqs_message(queue=get_settings().reminder_queue, batch_size=10)
def send_reminders(event: Any) -> dict[str, Any]:
    return handle_messages(event.to_dict(), event.context)
