"""Email notifications.

``dispatch_events``: the main table's stream -> messages on the notifications queue.
``send_notifications``: the notifications queue -> one email per recipient through SES v2,
exactly once per notification and recipient (Powertools idempotency).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Blueprint

from chalicelib.config import get_settings
from chalicelib.db.directory import DynamoDirectory
from chalicelib.events._common import (
    StreamBatchProcessor,
    log_context,
    read_change,
    run_batch,
    sqs_processor,
)
from chalicelib.models.messages import NotificationMessage
from chalicelib.notify.queues import notifications_queue
from chalicelib.notify.ses import OnceMailer
from chalicelib.observability import BatchMetrics, logger
from chalicelib.services.notifications import NotificationService, notifications_for

bp = Blueprint(__name__)


def handle_changes(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    metrics = BatchMetrics("dispatch_events")
    queue: Any = None

    def record_handler(record: DynamoDBRecord) -> int:
        nonlocal queue
        change = read_change(record, metrics, "NotificationDispatchFailures")
        messages = notifications_for(change)
        if not messages:
            return 0
        with log_context(correlation_id=change.correlation_id, tenant_id=change.tenant_id):
            try:
                queue = queue or notifications_queue()
                queue.publish(messages)
            except Exception:
                metrics.add("NotificationDispatchFailures")
                logger.exception("notifications not queued", extra={"event_id": change.event_id})
                raise
            metrics.add("NotificationsQueued", len(messages))
            logger.info(
                "notifications queued",
                extra={"kinds": [m.kind.value for m in messages], "entity_id": change.entity_id},
            )
        return len(messages)

    return run_batch(event, context, StreamBatchProcessor(), record_handler, metrics)


def handle_messages(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    metrics = BatchMetrics("send_notifications")
    service: NotificationService | None = None

    def record_handler(record: SQSRecord) -> int:
        nonlocal service
        try:
            message = NotificationMessage.model_validate_json(record.body)
        except ValueError:
            metrics.add("NotificationFailures")
            logger.exception("malformed notification message", extra={"sqs_id": record.message_id})
            raise
        with log_context(correlation_id=message.correlation_id, tenant_id=message.tenant_id):
            try:
                service = service or NotificationService(
                    DynamoDirectory(), OnceMailer(lambda_context=context)
                )
                delivery = service.deliver(message)
            except Exception:
                metrics.add("NotificationFailures")
                logger.exception(
                    "notification not sent",
                    extra={"notification_id": message.id, "kind": message.kind.value},
                )
                raise
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

    return run_batch(event, context, sqs_processor(), record_handler, metrics)


@bp.on_dynamodb_record(
    stream_arn=get_settings().main_table_stream_arn, batch_size=100, starting_position="LATEST"
)
def dispatch_events(event: Any) -> dict[str, Any]:
    return handle_changes(event.to_dict(), event.context)


@bp.on_sqs_message(queue=get_settings().notifications_queue, batch_size=10)
def send_notifications(event: Any) -> dict[str, Any]:
    return handle_messages(event.to_dict(), event.context)
