"""Putting messages on the app's SQS queues (names and URLs from configuration)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import boto3
from pydantic import BaseModel

from chalicelib.config import get_settings


class QueuePublisher:
    """Sends pydantic messages to one queue, ten per request (SQS's batch limit)."""

    def __init__(self, queue_url: str, queue_name: str, client: Any = None) -> None:
        settings = get_settings()
        self.client = client or boto3.client("sqs", region_name=settings.aws_region)
        self.url = queue_url or self.client.get_queue_url(QueueName=queue_name)["QueueUrl"]

    def publish(self, messages: Sequence[BaseModel]) -> int:
        """Send every message; raises if any could not be sent (the caller retries them all)."""
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            answer = self.client.send_message_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(i), "MessageBody": m.model_dump_json()} for i, m in enumerate(chunk)
                ],
            )
            if answer.get("Failed"):
                codes = ", ".join(str(f.get("Code")) for f in answer["Failed"])
                raise RuntimeError(f"{len(answer['Failed'])} messages were not queued: {codes}")
        return len(messages)


def notifications_queue() -> QueuePublisher:
    s = get_settings()
    return QueuePublisher(s.notifications_queue_url, s.notifications_queue)


def escalation_queue() -> QueuePublisher:
    s = get_settings()
    return QueuePublisher(s.escalation_queue_url, s.escalation_queue)


def expiry_queue() -> QueuePublisher:
    s = get_settings()
    return QueuePublisher(s.expiry_queue_url, s.expiry_queue)


def reminder_queue() -> QueuePublisher:
    s = get_settings()
    return QueuePublisher(s.reminder_queue_url, s.reminder_queue)
