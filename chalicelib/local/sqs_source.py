"""An SQS event source: one ``on_sqs_message`` function and its queue, polled like Lambda.

Successes are deleted; failures stay on the queue and come back (their visibility is shortened
so retries are quick); the queue's redrive policy moves a message to its DLQ after
``maxReceiveCount`` receives. A handler that raises fails its whole batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.local.lambda_events import batch, sqs_record_from_message
from chalicelib.local.lambda_runtime import failed_ids, invoke

log = logging.getLogger("tutorbook.local.pump")


@dataclass
class SqsSource:
    name: str
    handler: Callable[..., Any]
    batch_size: int
    queue: str
    sqs: Any
    region: str
    retry_visibility: int = 0
    _url: str | None = None
    _arn: str | None = None

    def _resolve(self) -> tuple[str, str]:
        if self._url is None or self._arn is None:
            self._url = self.sqs.get_queue_url(QueueName=self.queue)["QueueUrl"]
            self._arn = self.sqs.get_queue_attributes(
                QueueUrl=self._url, AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]
        return self._url, self._arn

    def poll(self) -> int:
        """Receive one batch and deliver it; answers how many messages were delivered."""
        url, arn = self._resolve()
        messages = self.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=max(1, min(self.batch_size, 10)),
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not messages:
            return 0
        event = batch(sqs_record_from_message(m, arn, self.region) for m in messages)
        ids = [m["MessageId"] for m in messages]
        try:
            failed = failed_ids(invoke(self.handler, self.name, event, self.region))
        except Exception:
            log.exception("%s raised; the whole batch of %d will be retried", self.name, len(ids))
            failed = set(ids)
        failed = (failed or set()) & set(ids)
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        for m in messages:
            if m["MessageId"] in failed:
                log.warning("%s: message %s failed; it will be retried", self.name, m["MessageId"])
                self.sqs.change_message_visibility(
                    QueueUrl=url,
                    ReceiptHandle=m["ReceiptHandle"],
                    VisibilityTimeout=self.retry_visibility,
                )
        return len(messages)
