"""Powertools' batch processors for the event functions (imported by the first batch).

:class:`StreamBatchProcessor` keeps a stream shard's order: after a failed record the rest of
the batch is reported failed without running; :func:`queue_processor` reports each failed SQS
message alone.
"""

from __future__ import annotations

import sys
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType


class NotProcessed(Exception):
    """A stream record after a failed one: left for the retry, which starts at the failure."""


class StreamBatchProcessor(BatchProcessor):
    """Powertools' batch processor for DynamoDB streams, with stream semantics.

    Records of a shard must take effect in order. Once one record fails, every later record of
    the batch is reported failed too (without running it): Lambda then checkpoints just before
    the first failure, the earlier records stay committed, and the retry starts at the failure.
    """

    def __init__(self) -> None:
        super().__init__(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
        self._failed = False

    def _prepare(self) -> None:
        super()._prepare()  # type: ignore[no-untyped-call]  # Powertools leaves it untyped
        self._failed = False

    def _process_record(self, record: dict[str, Any]) -> Any:
        if self._failed:
            try:
                raise NotProcessed("an earlier record of this batch failed")
            except NotProcessed:
                data = self._to_batch_type(record=record, event_type=self.event_type)
                return self.failure_handler(record=data, exception=sys.exc_info())
        result = super()._process_record(record)
        if result[0] == "fail":
            self._failed = True
        return result


def queue_processor() -> BatchProcessor:
    return BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
