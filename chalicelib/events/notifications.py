"""Email notifications.

``dispatch_events``: the main table's stream -> messages on the notifications queue.
``send_notifications``: the notifications queue -> one email per recipient through SES v2,
exactly once per notification and recipient (``chalicelib.idempotency``).
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.config import get_settings
from chalicelib.db.store import default_store
from chalicelib.events.batch import Failure, process_batch, queue_messages, stream_changes
from chalicelib.models.messages import Change, NotificationMessage
from chalicelib.notify.queues import notifications_queue
from chalicelib.notify.ses import OnceMailer
from chalicelib.observability import BatchMetrics, logger
from chalicelib.services.notifications import NotificationService, notifications_for

bp = Blueprint(__name__)


def handle_changes(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    queue = None

    def dispatch(change: Change, metrics: BatchMetrics) -> int:
        nonlocal queue
        messages = notifications_for(change)
        if not messages:
            return 0
        queue = queue or notifications_queue()
        queue.publish(messages)
        metrics.add("NotificationsQueued", len(messages))
        logger.info(
            "notifications queued",
            extra={"kinds": [m.kind.value for m in messages], "entity_id": change.entity_id},
        )
        return len(messages)

    return process_batch(
        event,
        context,
        function="dispatch_events",
        source=stream_changes(),
        handle=dispatch,
        failure=Failure(
            "NotificationDispatchFailures",
            "notifications not queued",
            lambda change: {"event_id": change.event_id},
        ),
    )


def handle_messages(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    service: NotificationService | None = None

    def deliver(message: NotificationMessage, metrics: BatchMetrics) -> int:
        nonlocal service
        service = service or NotificationService(
            default_store().directory(), OnceMailer(lambda_context=context)
        )
        delivery = service.deliver(message)
        metrics.add("EmailsSent", delivery.sent)
        metrics.add("EmailsAlreadySent", delivery.repeated)
        logger.info(
            "notification delivered",
            extra={
                "notification_id": message.id,
                "kind": message.kind.value,
                "sent": delivery.sent,
                "repeated": delivery.repeated,
            },
        )
        return delivery.sent

    return process_batch(
        event,
        context,
        function="send_notifications",
        source=queue_messages(NotificationMessage.model_validate_json, "notification"),
        handle=deliver,
        failure=Failure(
            "NotificationFailures",
            "notification not sent",
            lambda message: {"notification_id": message.id, "kind": message.kind.value},
        ),
    )


# Deployed, the mapping starts at TRIM_HORIZON with partial-batch reports: infra/resources.json
# replaces chalice's StartingPosition (chalice requires one here) when it is merged.
@bp.on_dynamodb_record(
    stream_arn=get_settings().main_table_stream_arn, batch_size=100, starting_position="LATEST"
)
def dispatch_events(event: Any) -> dict[str, Any]:
    return handle_changes(event.to_dict(), event.context)


@bp.on_sqs_message(queue=get_settings().notifications_queue, batch_size=10)
def send_notifications(event: Any) -> dict[str, Any]:
    return handle_messages(event.to_dict(), event.context)
