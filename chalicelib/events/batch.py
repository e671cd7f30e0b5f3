"""What every event function shares: the stream batch processor, logging context, metrics."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

from chalicelib.db.changes import parse_record
from chalicelib.models.messages import Change
from chalicelib.observability import BatchMetrics, logger


class NotProcessed(Exception):  # noqa: N818 - a reason, reported per record
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
        super()._prepare()
        self._failed = False

    def _process_record(self, record: dict) -> Any:
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


def sqs_processor() -> BatchProcessor:
    """Powertools' batch processor for SQS: a failed message is reported, the rest succeed."""
    return BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@contextmanager
def log_context(**keys: str | None) -> Iterator[None]:
    """Structured-log keys (correlation id, tenant ...) for the duration of one record."""
    present = {k: v for k, v in keys.items() if v}
    logger.append_keys(**present)
    try:
        yield
    finally:
        logger.remove_keys(list(present))


def read_change(record: Any, metrics: BatchMetrics, failure_metric: str) -> Change:
    """The record as a Change; a malformed one is counted and logged, then fails (and is
    reported, so the stream retries it and finally hands it to the StreamDLQ)."""
    try:
        return parse_record(record.raw_event)
    except Exception:
        metrics.add(failure_metric)
        logger.exception("malformed stream record", extra={"event_id": record.event_id})
        raise


def run_batch(
    event: dict[str, Any],
    context: Any,
    processor: BatchProcessor,
    record_handler: Callable[[Any], Any],
    metrics: BatchMetrics,
) -> dict[str, Any]:
    """Run one batch through Powertools; answer its partial-failure report; publish metrics."""
    try:
        return dict(
            process_partial_response(
                event=event, record_handler=record_handler, processor=processor, context=context
            )
        )
    finally:
        metrics.publish()
