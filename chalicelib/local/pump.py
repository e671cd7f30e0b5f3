"""Deliver SQS messages and DynamoDB stream records to the app's event functions, like Lambda.

moto stores messages and stream records but never polls them into functions; this pump does.
It discovers the event functions from ``app.event_sources`` (no handler is named here), builds
Lambda-shaped events, and honours the partial-batch answer
``{"batchItemFailures": [{"itemIdentifier": ...}]}`` the way Lambda's event source mappings do:

* SQS: successes are deleted; failures stay on the queue and come back (their visibility is
  shortened so retries are quick); the queue's redrive policy moves a message to its DLQ after
  ``maxReceiveCount`` receives.
* Streams: the shard is checkpointed before the first failed record, and delivery resumes from
  it. After ``max_stream_retries`` failed deliveries of one record it is logged and skipped
  (Lambda's ``MaximumRetryAttempts``).

A handler that raises fails its whole batch. Use :meth:`EventPump.drain` in tests (synchronous,
in-process, e.g. under ``mock_aws``) and :meth:`EventPump.start` / :meth:`EventPump.stop` for
background threads in the local stack.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

log = logging.getLogger("tutorbook.local.pump")

ACCOUNT_ID = "123456789012"


class LambdaContext:
    """Enough of Lambda's context object for Chalice and Powertools (logger, metrics)."""

    def __init__(self, function_name: str, region: str, timeout_ms: int = 60_000) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def invoke(handler: Callable[..., Any], name: str, event: dict[str, Any], region: str) -> Any:
    """Call an event function as Lambda would; returns its answer (raises what it raises)."""
    return handler(event, LambdaContext(name, region))


def failed_ids(answer: Any) -> set[str] | None:
    """The ids a partial-batch answer reports as failed (None: the answer reports none)."""
    if not isinstance(answer, dict) or "batchItemFailures" not in answer:
        return None
    return {
        str(item.get("itemIdentifier"))
        for item in answer.get("batchItemFailures") or []
        if isinstance(item, dict)
    }


def _clients_config() -> Config:
    # botocore >= 1.44 sends streams calls to an account-specific host moto does not route.
    return Config(account_id_endpoint_mode="disabled", retries={"max_attempts": 2})


@dataclass
class _Source:
    name: str
    handler: Callable[..., Any]
    batch_size: int

    def poll(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError


@dataclass
class SqsSource(_Source):
    """One ``on_sqs_message`` function and its queue."""

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
        event = {"Records": [self.record(m, arn) for m in messages]}
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

    def record(self, message: dict[str, Any], arn: str) -> dict[str, Any]:
        body = message.get("Body", "")
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": body,
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {
                key: _lambda_message_attribute(value)
                for key, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),  # noqa: S324
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": self.region,
        }


def _lambda_message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """SQS API attribute shape -> Lambda event shape (camelCase keys)."""
    out: dict[str, Any] = {
        "dataType": value.get("DataType"),
        "stringListValues": value.get("StringListValues", []),
        "binaryListValues": value.get("BinaryListValues", []),
    }
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        out["binaryValue"] = value["BinaryValue"]
    return out


@dataclass
class StreamSource(_Source):
    """One ``on_dynamodb_record`` function and the current stream of the table in its ARN."""

    stream_arn: str
    dynamodb: Any
    streams: Any
    region: str
    max_retries: int = 3
    checkpoints: dict[str, str] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    _current_arn: str | None = None

    @property
    def table_name(self) -> str:
        # arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>
        return self.stream_arn.split(":", 5)[5].split("/")[1]

    def current_stream(self, refresh: bool = False) -> str | None:
        if self._current_arn is None or refresh:
            try:
                table = self.dynamodb.describe_table(TableName=self.table_name)["Table"]
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                    raise
                # The ARN was fixed when the app was imported, maybe before the environment
                # named this stack's table: follow the configured main table instead.
                from chalicelib.config import get_settings

                main_table = get_settings().main_table
                log.warning("%s: no table %s; reading %s", self.name, self.table_name, main_table)
                table = self.dynamodb.describe_table(TableName=main_table)["Table"]
            latest = table.get("LatestStreamArn")
            if latest != self._current_arn:
                self.checkpoints.clear()
                self.attempts.clear()
            self._current_arn = latest
        return self._current_arn

    def poll(self) -> int:
        """Deliver at most one batch per shard; answers how many records were delivered."""
        arn = self.current_stream()
        if arn is None:
            return 0
        try:
            shards = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            self.current_stream(refresh=True)  # the table was re-created: follow its new stream
            return 0
        return sum(self._poll_shard(arn, shard["ShardId"]) for shard in shards)

    def _poll_shard(self, arn: str, shard_id: str) -> int:
        checkpoint = self.checkpoints.get(shard_id)
        kwargs: dict[str, Any] = {"StreamArn": arn, "ShardId": shard_id}
        if checkpoint is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
            kwargs["SequenceNumber"] = checkpoint
        iterator = self.streams.get_shard_iterator(**kwargs)["ShardIterator"]
        records = self.streams.get_records(ShardIterator=iterator, Limit=self.batch_size)["Records"]
        if not records:
            return 0
        event = {"Records": [self.record(r, arn) for r in records]}
        sequence = [r["dynamodb"]["SequenceNumber"] for r in records]
        try:
            failed = failed_ids(invoke(self.handler, self.name, event, self.region))
        except Exception:
            log.exception("%s raised; the batch is retried from its first record", self.name)
            failed = {sequence[0]}
        first_failed = next((s for s in sequence if s in (failed or set())), None)
        if first_failed is None:
            self.checkpoints[shard_id] = sequence[-1]
            for s in sequence:
                self.attempts.pop(s, None)
            return len(records)
        position = sequence.index(first_failed)
        if position:
            self.checkpoints[shard_id] = sequence[position - 1]
        self.attempts[first_failed] = self.attempts.get(first_failed, 0) + 1
        if self.attempts[first_failed] > self.max_retries:
            log.error(
                "%s: stream record %s failed %d times; skipping it",
                self.name,
                first_failed,
                self.attempts[first_failed],
            )
            self.checkpoints[shard_id] = first_failed
            self.attempts.pop(first_failed)
        else:
            log.warning("%s: stream record %s failed; it will be retried", self.name, first_failed)
        return len(records)

    def record(self, record: dict[str, Any], arn: str) -> dict[str, Any]:
        data = dict(record["dynamodb"])
        created = data.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            data["ApproximateCreationDateTime"] = int(created.timestamp())
        return {
            "eventID": record.get("eventID") or uuid.uuid4().hex,
            "eventName": record["eventName"],
            "eventVersion": record.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": record.get("awsRegion") or self.region,
            "eventSourceARN": arn,
            "dynamodb": data,
        }


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
    ) -> None:
        kwargs: dict[str, Any] = {"region_name": region, "config": _clients_config()}
        if endpoint_url:
            kwargs["endpoint_url"] = endpoint_url
        self.region = region
        self.idle_seconds = idle_seconds
        self._sqs = sqs or boto3.client("sqs", **kwargs)
        self._dynamodb = dynamodb or boto3.client("dynamodb", **kwargs)
        self._streams = streams or boto3.client("dynamodbstreams", **kwargs)
        self.sources: list[_Source] = list(
            self._discover(app, retry_visibility=retry_visibility, max_retries=max_stream_retries)
        )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _discover(self, app: Any, *, retry_visibility: int, max_retries: int) -> Iterable[_Source]:
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
        """One polling thread per event source, until :meth:`stop` (or ``stop`` is set)."""
        if stop is not None:
            self._stop = stop
        for source in self.sources:
            thread = threading.Thread(
                target=self._run, args=(source,), name=f"pump-{source.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def _run(self, source: _Source) -> None:
        while not self._stop.is_set():
            try:
                delivered = source.poll()
            except Exception:
                log.exception("polling %s failed; retrying", source.name)
                delivered = 0
            if not delivered:
                self._stop.wait(self.idle_seconds)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
