"""The plumbing every event function shares, so each handler is only what it does.

:func:`process_batch` runs one Lambda batch through Powertools' batch processor: for each
record it parses the message (a malformed one is counted, logged and reported failed), puts the
message's correlation id and tenant on the log lines of that record only, runs the handler
(a failure is counted, logged and reported failed) and answers the partial-failure report;
then it publishes the batch's metrics. Stream batches keep their order: after a failed record,
the rest of the batch is reported failed without running (:class:`StreamBatchProcessor`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

from chalicelib.db.changes import parse_record
from chalicelib.models.messages import Change
from chalicelib.observability import BatchMetrics, logger


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


class Traced(Protocol):
    """A message whose log lines carry its request and tenant."""

    @property
    def correlation_id(self) -> str | None: ...
    @property
    def tenant_id(self) -> str | None: ...


M = TypeVar("M", bound=Traced)


@dataclass(frozen=True)
class Source(Generic[M]):
    """Where records come from and how one becomes a message."""

    processor: Callable[[], BatchProcessor]
    parse: Callable[[Any], M]
    malformed: str  # the log message for a record that is not a message
    record_id: Callable[[Any], dict[str, str]]  # names the record in that log line


def stream_changes() -> Source[Change]:
    """The main table's change stream: records become :class:`Change` s, in order."""
    return Source(
        processor=StreamBatchProcessor,
        parse=lambda record: parse_record(record.raw_event),
        malformed="malformed stream record",
        record_id=lambda record: {"event_id": record.event_id},
    )


def queue_messages(parse: Callable[[str], M], label: str) -> Source[M]:
    """An SQS queue whose bodies ``parse`` reads (a pydantic model's ``model_validate_json``);
    a failed message is retried alone, then goes to the queue's DLQ."""
    return Source(
        processor=lambda: BatchProcessor(
            event_type=EventType.SQS, raise_on_entire_batch_failure=False
        ),
        parse=lambda record: parse(record.body),
        malformed=f"malformed {label} message",
        record_id=lambda record: {"sqs_id": record.message_id},
    )


@contextmanager
def log_context(message: Traced) -> Iterator[None]:
    """The message's correlation id and tenant on this thread's log lines, for one record."""
    present = {
        k: v
        for k, v in {
            "correlation_id": message.correlation_id,
            "tenant_id": message.tenant_id,
        }.items()
        if v
    }
    logger.thread_safe_append_keys(**present)
    try:
        yield
    finally:
        logger.thread_safe_remove_keys(list(present))


@dataclass(frozen=True)
class Failure(Generic[M]):
    """What a failed record counts and logs."""

    metric: str
    log: str
    about: Callable[[M], dict[str, Any]]


def process_batch(
    event: dict[str, Any],
    context: Any,
    *,
    function: str,
    source: Source[M],
    handle: Callable[[M, BatchMetrics], object],
    failure: Failure[M],
) -> dict[str, Any]:
    """Run ``handle`` on every record of the batch; answer Lambda's partial-failure report."""
    metrics = BatchMetrics(function)

    def record_handler(record: Any) -> object:
        try:
            message = source.parse(record)
        except Exception:
            metrics.add(failure.metric)
            logger.exception(source.malformed, extra=source.record_id(record))
            raise
        with log_context(message):
            try:
                return handle(message, metrics)
            except Exception:
                metrics.add(failure.metric)
                logger.exception(failure.log, extra=failure.about(message))
                raise

    try:
        return dict(
            process_partial_response(
                event=event,
                record_handler=record_handler,
                processor=source.processor(),
                context=context,
            )
        )
    finally:
        metrics.publish()
