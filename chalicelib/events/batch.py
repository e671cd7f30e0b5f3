"""The plumbing every event function shares, so each handler is only what it does.

:func:`process_batch` runs one Lambda batch through Powertools' batch processor: for each
record it parses the message (a malformed one is counted, logged and reported failed), puts the
message's correlation id and tenant on the log lines of that record only, runs the handler
(a failure is counted, logged and reported failed) and answers the partial-failure report;
then it publishes the batch's metrics. Stream batches keep their order: after a failed record,
the rest of the batch is reported failed without running (``processors.py``).

Powertools' batch utility and the stream record parser are imported by the first batch, not
with the app: every function imports the whole app, and only the event functions need them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from chalicelib.models.messages import Change
from chalicelib.observability import BatchMetrics, logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor


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
    from chalicelib.db.changes import parse_record
    from chalicelib.events.processors import StreamBatchProcessor

    return Source(
        processor=StreamBatchProcessor,
        parse=lambda record: parse_record(record.raw_event),
        malformed="malformed stream record",
        record_id=lambda record: {"event_id": record.event_id},
    )


def queue_messages(parse: Callable[[str], M], label: str) -> Source[M]:
    """An SQS queue whose bodies ``parse`` reads (a pydantic model's ``model_validate_json``);
    a failed message is retried alone, then goes to the queue's DLQ."""
    from chalicelib.events.processors import queue_processor

    return Source(
        processor=queue_processor,
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
    from aws_lambda_powertools.utilities.batch import process_partial_response

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


@dataclass(frozen=True)
class Finder:
    """A scheduled finder's names: its function (the metrics' namespace), the metric counting
    what it queued and the one counting its failures, and its two log lines."""

    function: str
    found_metric: str
    failure_metric: str
    queued_log: str
    failed_log: str


def run_finder(finder: Finder, find: Callable[[], Sequence[Traced]]) -> int:
    """Run one scheduled finder: count and log what it queued (naming the first message's
    correlation id), count and log a failure and let it propagate (the schedule retries)."""
    metrics = BatchMetrics(finder.function)
    try:
        queued = find()
        metrics.add(finder.found_metric, len(queued))
        logger.info(
            finder.queued_log,
            extra={
                "count": len(queued),
                "correlation_id": queued[0].correlation_id if queued else None,
            },
        )
        return len(queued)
    except Exception:
        metrics.add(finder.failure_metric)
        logger.exception(finder.failed_log)
        raise
    finally:
        metrics.publish()
