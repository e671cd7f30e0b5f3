"""Deliver SQS messages and DynamoDB stream records to the app's event functions, like Lambda.

moto stores messages and stream records but never polls them into functions; this pump does.
It discovers the event functions from ``app.event_sources`` (no handler is named here) and
polls one event source per function: :class:`~chalicelib.local.sqs_source.SqsSource` and
:class:`~chalicelib.local.stream_source.StreamSource` build Lambda-shaped events
(:mod:`chalicelib.local.lambda_events`), call the function through the fake Lambda runtime
(:mod:`chalicelib.local.lambda_runtime`) and honour its partial-batch answer
``{"batchItemFailures": [{"itemIdentifier": ...}]}`` the way Lambda's event source mappings do.

Use :meth:`EventPump.drain` in tests (synchronous, in-process, e.g. under ``mock_aws``) and
:meth:`EventPump.start` / :meth:`EventPump.stop` for background threads in the local stack.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.local.sqs_source import SqsSource
from chalicelib.local.stream_source import StreamSource

log = logging.getLogger("tutorbook.local.pump")

Source = SqsSource | StreamSource

#: Seconds a queue's second and later pollers wait after finding the queue empty.
EXTRA_IDLE = 2.0


def _clients_config() -> Config:
    # botocore >= 1.44 sends streams calls to an account-specific host moto does not route.
    # Short timeouts: when the emulator is gone, a poll fails in about a second, not a minute.
    return Config(
        account_id_endpoint_mode="disabled",
        retries={"max_attempts": 2},
        connect_timeout=1,
        read_timeout=15,
    )


class Backoff:
    """How long a source waits after failing polls: ``first`` seconds, doubling up to ``most``.

    One failure streak logs one traceback (the first failure), then one line per retry, and one
    line when polling works again.
    """

    def __init__(self, name: str, first: float = 0.2, most: float = 30.0) -> None:
        self.name = name
        self.first = first
        self.most = most
        self.failures = 0
        self.delay = 0.0

    def failed(self, error: BaseException) -> float:
        """Note a failed poll; answers the seconds to wait before the next one."""
        self.failures += 1
        self.delay = self.first if self.failures == 1 else min(self.most, self.delay * 2)
        if self.failures == 1:
            log.error(
                "polling %s failed; retrying in %.1fs, then less often while it fails",
                self.name,
                self.delay,
                exc_info=error,
            )
        else:
            log.warning(
                "polling %s failed again (%d in a row: %s: %s); retrying in %.1fs",
                self.name,
                self.failures,
                type(error).__name__,
                str(error)[:200],
                self.delay,
            )
        return self.delay

    def succeeded(self) -> None:
        if self.failures:
            log.info("polling %s works again after %d failures", self.name, self.failures)
        self.failures = 0
        self.delay = 0.0


class EventPump:
    """Delivers every SQS and DynamoDB-stream event source of a Chalice app."""

    def __init__(
        self,
        app: Any,
        *,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        sqs: Any = None,
        dynamodb: Any = None,
        streams: Any = None,
        retry_visibility: int = 0,
        max_stream_retries: int = 3,
        idle_seconds: float = 0.2,
        queue_pollers: int = 4,
    ) -> None:
        kwargs: dict[str, Any] = {"region_name": region, "config": _clients_config()}
        if endpoint_url:
            kwargs["endpoint_url"] = endpoint_url
        self.region = region
        self.idle_seconds = idle_seconds
        self.queue_pollers = max(1, queue_pollers)
        self._sqs = sqs or boto3.client("sqs", **kwargs)
        self._dynamodb = dynamodb or boto3.client("dynamodb", **kwargs)
        self._streams = streams or boto3.client("dynamodbstreams", **kwargs)
        self.sources: list[Source] = list(
            self._discover(app, retry_visibility=retry_visibility, max_retries=max_stream_retries)
        )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _discover(self, app: Any, *, retry_visibility: int, max_retries: int) -> Iterable[Source]:
        from chalice.app import DynamoDBEventConfig, SQSEventConfig

        for cfg in app.event_sources:
            handler = app.handler_map[cfg.name]
            if isinstance(cfg, SQSEventConfig):
                queue = cfg.queue or str(cfg.queue_arn).rsplit(":", 1)[-1]
                yield SqsSource(
                    name=cfg.name,
                    handler=handler,
                    batch_size=cfg.batch_size,
                    queue=queue,
                    sqs=self._sqs,
                    region=self.region,
                    retry_visibility=retry_visibility,
                )
            elif isinstance(cfg, DynamoDBEventConfig):
                yield StreamSource(
                    name=cfg.name,
                    handler=handler,
                    batch_size=cfg.batch_size,
                    stream_arn=cfg.stream_arn,
                    dynamodb=self._dynamodb,
                    streams=self._streams,
                    region=self.region,
                    max_retries=max_retries,
                )

    def acknowledged(self) -> dict[str, int]:
        """Per table: the sequence number every stream function of the app has finished with
        (records up to it may be trimmed from the emulator's stream)."""
        done: dict[str, list[int | None]] = {}
        for source in self.sources:
            if isinstance(source, StreamSource) and source.table is not None:
                done.setdefault(source.table, []).append(source.acknowledged())
        return {
            table: min(n for n in numbers if n is not None)
            for table, numbers in done.items()
            if None not in numbers
        }

    def poll_once(self) -> int:
        """One batch from every source; answers how many messages/records were delivered."""
        return sum(source.poll() for source in self.sources)

    def drain(self, max_rounds: int = 100) -> int:
        """Deliver until nothing is pending (or ``max_rounds`` rounds); answers the total.

        A handler's own writes (to the table, to queues) are delivered in later rounds, so one
        call settles a whole chain: stream -> queue -> email.
        """
        total = 0
        for _ in range(max_rounds):
            delivered = self.poll_once()
            total += delivered
            if not delivered:
                break
        return total

    # Background mode -----------------------------------------------------------------

    def start(self, stop: threading.Event | None = None) -> EventPump:
        """Polling threads until :meth:`stop` (or ``stop`` is set): one per stream function
        (Lambda reads a shard in order, one batch at a time) and ``queue_pollers`` per queue
        function (Lambda runs several batches of a queue at once), so a queue's function
        keeps up with what the API and the stream functions send it.

        The first poller of a source looks again ``idle_seconds`` after finding nothing; the
        others only every :data:`EXTRA_POLLER_IDLE_SECONDS`, so an idle stack polls little.
        """
        if stop is not None:
            self._stop = stop
        for source in self.sources:
            pollers = self.queue_pollers if isinstance(source, SqsSource) else 1
            for n in range(pollers):
                idle = self.idle_seconds if n == 0 else max(self.idle_seconds, EXTRA_IDLE)
                thread = threading.Thread(
                    target=self._run,
                    args=(source, idle),
                    name=f"pump-{source.name}" + (f"-{n}" if n else ""),
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)
        return self

    def _run(self, source: Source, idle: float | None = None) -> None:
        idle = self.idle_seconds if idle is None else idle
        backoff = Backoff(source.name)
        while not self._stop.is_set():
            try:
                delivered = source.poll()
            except Exception as error:  # noqa: BLE001 - e.g. the emulator is gone: wait, retry
                self._stop.wait(backoff.failed(error))
                continue
            backoff.succeeded()
            if not delivered:
                self._stop.wait(idle)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop polling; wait at most ``timeout`` seconds in all for batches in flight."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()
