"""A DynamoDB stream event source: one ``on_dynamodb_record`` function, polled like Lambda.

The shard is checkpointed before the first failed record, and delivery resumes from it. After
``max_retries`` failed deliveries of one record it is logged and skipped (Lambda's
``MaximumRetryAttempts``). A handler that raises gets the batch again from its first record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.local.lambda_events import batch, stream_record
from chalicelib.local.lambda_runtime import failed_ids, invoke

log = logging.getLogger("tutorbook.local.pump")


@dataclass
class StreamSource:
    """One ``on_dynamodb_record`` function and the current stream of the table in its ARN."""

    name: str
    handler: Callable[..., Any]
    batch_size: int
    stream_arn: str
    dynamodb: Any
    streams: Any
    region: str
    max_retries: int = 3
    #: shard id -> the sequence number of the last record this function has finished with.
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
        for shard in shards:
            self._skip_trimmed(shard)
        return sum(self._poll_shard(arn, shard["ShardId"]) for shard in shards)

    def _skip_trimmed(self, shard: dict[str, Any]) -> None:
        """A checkpoint older than the shard's oldest record (the stream was trimmed past it,
        as DynamoDB trims after 24 hours) resumes at the oldest record, with a warning."""
        checkpoint = self.checkpoints.get(shard["ShardId"])
        oldest = shard.get("SequenceNumberRange", {}).get("StartingSequenceNumber")
        if checkpoint is not None and oldest is not None and int(checkpoint) + 1 < int(oldest):
            log.warning(
                "%s: records after %s were trimmed from the stream; resuming at %s",
                self.name,
                checkpoint,
                oldest,
            )
            del self.checkpoints[shard["ShardId"]]

    @property
    def table(self) -> str | None:
        """The name of the table whose stream this function reads (once it has read it)."""
        if self._current_arn is None:
            return None
        return self._current_arn.split(":", 5)[5].split("/")[1]

    def acknowledged(self) -> int | None:
        """The sequence number up to which this function is done with its stream (moto's
        streams have one shard), or None before it has finished any record."""
        if len(self.checkpoints) != 1:
            return None
        return int(next(iter(self.checkpoints.values())))

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
        event = batch(stream_record(r, arn=arn, region=self.region) for r in records)
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
