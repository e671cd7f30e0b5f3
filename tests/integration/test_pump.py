"""The local event pump and scheduler deliver events to a Chalice app the way Lambda would."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from chalice import Chalice

from chalicelib.local.lambda_runtime import failed_ids
from chalicelib.local.pump import EventPump
from chalicelib.local.scheduler import Scheduler


class Recorder:
    """A tiny Chalice app with one function per event source, whose behaviour a test sets."""

    def __init__(self, env: dict[str, str], *, sqs_batch: int = 10, stream_batch: int = 100):
        self.sqs_events: list[dict[str, Any]] = []
        self.stream_events: list[dict[str, Any]] = []
        self.scheduled_events: list[dict[str, Any]] = []
        self.on_message: Callable[[dict[str, Any]], bool] = lambda record: True
        self.on_record: Callable[[dict[str, Any]], bool] = lambda record: True
        self.raise_once = {"sqs": False, "stream": False}
        self.delivered = threading.Event()
        app = Chalice(app_name="pump-test")

        @app.on_sqs_message(queue=env["NOTIFICATIONS_QUEUE"], batch_size=sqs_batch)
        def consume(event: Any) -> dict[str, Any]:
            raw = event.to_dict()
            self.sqs_events.append(raw)
            self.delivered.set()
            if self.raise_once["sqs"]:
                self.raise_once["sqs"] = False
                raise RuntimeError("boom")
            return {
                "batchItemFailures": [
                    {"itemIdentifier": r["messageId"]}
                    for r in raw["Records"]
                    if not self.on_message(r)
                ]
            }

        @app.on_dynamodb_record(stream_arn=env["MAIN_TABLE_STREAM_ARN"], batch_size=stream_batch)
        def changes(event: Any) -> dict[str, Any]:
            raw = event.to_dict()
            self.stream_events.append(raw)
            if self.raise_once["stream"]:
                self.raise_once["stream"] = False
                raise RuntimeError("boom")
            for r in raw["Records"]:
                if not self.on_record(r):
                    return {
                        "batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]}]
                    }
            return {"batchItemFailures": []}

        @app.schedule("rate(5 minutes)")
        def tick(event: Any) -> None:
            self.scheduled_events.append(event.to_dict())
            self.delivered.set()

        self.app = app

    def sqs_bodies(self) -> list[str]:
        return [r["body"] for e in self.sqs_events for r in e["Records"]]

    def stream_keys(self) -> list[str]:
        return [r["dynamodb"]["Keys"]["sk"]["S"] for e in self.stream_events for r in e["Records"]]


@pytest.fixture
def sqs(aws: dict[str, str]) -> Any:
    return boto3.client("sqs", region_name="us-east-1")


@pytest.fixture
def ddb(aws: dict[str, str]) -> Any:
    return boto3.client("dynamodb", region_name="us-east-1")


def send(sqs: Any, env: dict[str, str], *bodies: str) -> None:
    for body in bodies:
        sqs.send_message(
            QueueUrl=env["NOTIFICATIONS_QUEUE_URL"],
            MessageBody=body,
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
        )


def queue_count(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def put(ddb: Any, env: dict[str, str], sk: str, **extra: str) -> None:
    item = {"pk": {"S": "T#t1"}, "sk": {"S": sk}, "type": {"S": "test"}}
    item.update({k: {"S": v} for k, v in extra.items()})
    ddb.put_item(TableName=env["MAIN_TABLE"], Item=item)


# SQS ---------------------------------------------------------------------------------


def test_sqs_messages_are_delivered_lambda_shaped_and_deleted(aws: dict[str, str], sqs: Any):
    rec = Recorder(aws)
    send(sqs, aws, "one", "two", "three")

    delivered = EventPump(rec.app).drain()

    assert delivered == 3
    assert sorted(rec.sqs_bodies()) == ["one", "three", "two"]
    record = rec.sqs_events[0]["Records"][0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].endswith(":" + aws["NOTIFICATIONS_QUEUE"])
    assert record["awsRegion"] == "us-east-1"
    assert record["messageId"] and record["receiptHandle"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["kind"]["stringValue"] == "test"
    assert record["messageAttributes"]["kind"]["dataType"] == "String"
    assert len(record["md5OfBody"]) == 32
    assert queue_count(sqs, aws["NOTIFICATIONS_QUEUE_URL"]) == 0


def test_a_partially_failed_batch_redelivers_only_the_failure_until_it_reaches_the_dlq(
    aws: dict[str, str], sqs: Any
):
    rec = Recorder(aws)
    rec.on_message = lambda record: record["body"] != "poison"
    send(sqs, aws, "good-1", "poison", "good-2")

    EventPump(rec.app).drain()

    bodies = rec.sqs_bodies()
    assert bodies.count("good-1") == 1
    assert bodies.count("good-2") == 1
    assert bodies.count("poison") == 3  # the queue's maxReceiveCount in infra/resources.json
    counts = [
        r["attributes"]["ApproximateReceiveCount"]
        for e in rec.sqs_events
        for r in e["Records"]
        if r["body"] == "poison"
    ]
    assert counts == ["1", "2", "3"]
    assert queue_count(sqs, aws["NOTIFICATIONS_QUEUE_URL"]) == 0
    dlq = sqs.receive_message(QueueUrl=aws["NOTIFICATIONS_DLQ_URL"], MaxNumberOfMessages=10)
    assert [m["Body"] for m in dlq["Messages"]] == ["poison"]


def test_a_handler_that_raises_fails_the_whole_batch_which_is_redelivered(
    aws: dict[str, str], sqs: Any
):
    rec = Recorder(aws)
    rec.raise_once["sqs"] = True
    send(sqs, aws, "a", "b")

    EventPump(rec.app).drain()

    assert sorted(rec.sqs_bodies()) == ["a", "a", "b", "b"]
    assert queue_count(sqs, aws["NOTIFICATIONS_QUEUE_URL"]) == 0


def test_batches_respect_the_configured_batch_size(aws: dict[str, str], sqs: Any):
    rec = Recorder(aws, sqs_batch=2)
    send(sqs, aws, *[f"m{i}" for i in range(5)])

    EventPump(rec.app).drain()

    assert sorted(rec.sqs_bodies()) == [f"m{i}" for i in range(5)]
    assert max(len(e["Records"]) for e in rec.sqs_events) <= 2


# DynamoDB streams --------------------------------------------------------------------


def test_stream_records_are_delivered_lambda_shaped_in_order(aws: dict[str, str], ddb: Any):
    rec = Recorder(aws)
    put(ddb, aws, "a", name="first")
    ddb.update_item(
        TableName=aws["MAIN_TABLE"],
        Key={"pk": {"S": "T#t1"}, "sk": {"S": "a"}},
        UpdateExpression="SET #n = :n",
        ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={":n": {"S": "second"}},
    )
    ddb.delete_item(TableName=aws["MAIN_TABLE"], Key={"pk": {"S": "T#t1"}, "sk": {"S": "a"}})

    EventPump(rec.app).drain()

    records = [r for e in rec.stream_events for r in e["Records"]]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    insert, modify, remove = records
    for r in records:
        assert r["eventSource"] == "aws:dynamodb"
        assert r["awsRegion"] == "us-east-1"
        assert r["eventID"] and r["eventVersion"]
        assert r["eventSourceARN"] == aws["MAIN_TABLE_STREAM_ARN"]
        assert r["dynamodb"]["Keys"] == {"pk": {"S": "T#t1"}, "sk": {"S": "a"}}
        assert r["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert isinstance(r["dynamodb"]["ApproximateCreationDateTime"], int | float)
        assert r["dynamodb"]["SizeBytes"] > 0
    assert insert["dynamodb"]["NewImage"]["name"] == {"S": "first"}
    assert "OldImage" not in insert["dynamodb"]
    assert modify["dynamodb"]["OldImage"]["name"] == {"S": "first"}
    assert modify["dynamodb"]["NewImage"]["name"] == {"S": "second"}
    assert remove["dynamodb"]["OldImage"]["name"] == {"S": "second"}
    sequence = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequence == sorted(sequence)


def test_a_failed_stream_record_is_redelivered_from_its_checkpoint(aws: dict[str, str], ddb: Any):
    rec = Recorder(aws)
    failures = {"c": 1}

    def on_record(record: dict[str, Any]) -> bool:
        key = record["dynamodb"]["Keys"]["sk"]["S"]
        if failures.get(key):
            failures[key] -= 1
            return False
        return True

    rec.on_record = on_record
    for sk in "abcde":
        put(ddb, aws, sk)

    pump = EventPump(rec.app)
    pump.drain()

    assert [
        [r["dynamodb"]["Keys"]["sk"]["S"] for r in e["Records"]] for e in rec.stream_events
    ] == [
        ["a", "b", "c", "d", "e"],
        ["c", "d", "e"],
    ]
    # Nothing new: nothing is delivered again.
    assert pump.drain() == 0
    put(ddb, aws, "f")
    pump.drain()
    assert rec.stream_keys()[-1:] == ["f"]
    assert rec.stream_keys().count("a") == 1


def test_a_stream_record_that_keeps_failing_is_skipped_after_bounded_retries(
    aws: dict[str, str], ddb: Any
):
    rec = Recorder(aws, stream_batch=2)
    rec.on_record = lambda record: record["dynamodb"]["Keys"]["sk"]["S"] != "b"
    for sk in "abcd":
        put(ddb, aws, sk)

    EventPump(rec.app, max_stream_retries=2).drain()

    keys = rec.stream_keys()
    assert keys.count("a") == 1
    assert keys.count("b") == 3  # first delivery + 2 retries, then skipped
    # Batches of two: [a b] [b c] [b c], then b is skipped and delivery moves on.
    assert keys == ["a", "b", "b", "c", "b", "c", "c", "d"]


def test_a_stream_handler_that_raises_gets_the_batch_again(aws: dict[str, str], ddb: Any):
    rec = Recorder(aws)
    rec.raise_once["stream"] = True
    put(ddb, aws, "a")
    put(ddb, aws, "b")

    EventPump(rec.app).drain()

    assert rec.stream_keys() == ["a", "b", "a", "b"]


def test_the_pump_reads_the_tables_current_stream_whatever_arn_the_app_names(
    aws: dict[str, str], ddb: Any
):
    stale = dict(aws)
    stale["MAIN_TABLE_STREAM_ARN"] = (
        f"arn:aws:dynamodb:us-east-1:123456789012:table/{aws['MAIN_TABLE']}/stream/old-label"
    )
    rec = Recorder(stale)
    put(ddb, aws, "a")

    EventPump(rec.app).drain()

    assert rec.stream_keys() == ["a"]
    assert rec.stream_events[0]["Records"][0]["eventSourceARN"] == aws["MAIN_TABLE_STREAM_ARN"]


def test_a_stream_arn_naming_a_missing_table_falls_back_to_the_configured_main_table(
    aws: dict[str, str], ddb: Any
):
    other = dict(aws)
    other["MAIN_TABLE_STREAM_ARN"] = (
        "arn:aws:dynamodb:us-east-1:123456789012:table/tutorbook-local-MainTable/stream/local"
    )
    rec = Recorder(other)
    put(ddb, aws, "a")

    EventPump(rec.app).drain()

    assert rec.stream_keys() == ["a"]


def test_the_pump_accepts_explicit_clients_and_queue_arns(aws: dict[str, str], sqs: Any):
    app = Chalice(app_name="arn-test")
    bodies: list[str] = []
    arn = sqs.get_queue_attributes(
        QueueUrl=aws["ESCALATION_QUEUE_URL"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]

    @app.on_sqs_message(queue_arn=arn, batch_size=5)
    def consume(event: Any) -> None:  # no partial-batch answer: all succeeded
        bodies.extend(r.body for r in event)

    sqs.send_message(QueueUrl=aws["ESCALATION_QUEUE_URL"], MessageBody=json.dumps({"x": 1}))
    pump = EventPump(
        app,
        sqs=sqs,
        dynamodb=boto3.client("dynamodb", region_name="us-east-1"),
        streams=boto3.client("dynamodbstreams", region_name="us-east-1"),
    )

    assert pump.drain() == 1
    assert bodies == ['{"x": 1}']
    assert queue_count(sqs, aws["ESCALATION_QUEUE_URL"]) == 0


def test_failed_ids_reads_partial_batch_answers() -> None:
    assert failed_ids(None) is None
    assert failed_ids({"other": 1}) is None
    assert failed_ids({"batchItemFailures": []}) == set()
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "x"}, "junk"]}) == {"x"}


def test_background_mode_delivers_until_stopped(aws: dict[str, str], sqs: Any):
    rec = Recorder(aws)
    stop = threading.Event()
    pump = EventPump(rec.app, idle_seconds=0.05).start(stop)
    try:
        send(sqs, aws, "async")
        assert rec.delivered.wait(10)
    finally:
        pump.stop()
    assert stop.is_set()
    assert rec.sqs_bodies() == ["async"]


# Scheduled functions -----------------------------------------------------------------


def test_scheduled_functions_run_with_a_scheduled_event(aws: dict[str, str]):
    rec = Recorder(aws)
    scheduler = Scheduler(rec.app, interval=60)

    assert [job.name for job in scheduler.jobs] == ["tick"]
    assert scheduler.run_once() == 1

    event = rec.scheduled_events[0]
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["resources"][0].endswith(":rule/tick")
    assert event["time"].endswith("Z")


def test_the_scheduler_runs_in_the_background_until_stopped(aws: dict[str, str]):
    rec = Recorder(aws)
    scheduler = Scheduler(rec.app, interval=0.05).start()
    try:
        assert rec.delivered.wait(10)
    finally:
        scheduler.stop()
    assert rec.scheduled_events


def test_a_scheduled_function_that_raises_does_not_stop_the_others(aws: dict[str, str]):
    app = Chalice(app_name="sched-test")
    ran: list[str] = []

    @app.schedule("rate(1 minute)")
    def broken(event: Any) -> None:
        raise RuntimeError("boom")

    @app.schedule("rate(1 minute)")
    def fine(event: Any) -> None:
        ran.append("fine")

    assert Scheduler(app).run_once() == 1
    assert ran == ["fine"]


def test_the_pump_reports_how_far_every_stream_function_has_got(aws: dict[str, str], ddb: Any):
    rec = Recorder(aws)
    pump = EventPump(rec.app)
    assert pump.acknowledged() == {}  # nothing read yet: nothing may be trimmed
    for sk in "abc":
        put(ddb, aws, sk)

    pump.drain()

    done = pump.acknowledged()
    last = max(
        int(r["dynamodb"]["SequenceNumber"]) for e in rec.stream_events for r in e["Records"]
    )
    assert done == {aws["MAIN_TABLE"]: last}


def test_a_reader_behind_a_trimmed_stream_resumes_at_its_oldest_record(
    aws: dict[str, str], ddb: Any
):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib.local.emulator import trim_stream

    rec = Recorder(aws)
    pump = EventPump(rec.app)
    put(ddb, aws, "a")
    pump.drain()
    for sk in "bcd":
        put(ddb, aws, sk)
    shard = (
        dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables[aws["MAIN_TABLE"]].stream_shard
    )
    assert shard is not None
    # Another reader finished b and c; this pump only a: the stream keeps d alone.
    trim_stream(shard, acknowledged=int(shard.starting_sequence_number) + 2, keep=0)

    pump.drain()

    assert rec.stream_keys() == ["a", "d"]


# The emulator going away -------------------------------------------------------------------


class _GoneEmulator:
    """An event source whose emulator stops answering for ``failures`` polls, then is back."""

    name = "send_notifications"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.polls = 0

    def poll(self) -> int:
        self.polls += 1
        if self.failures:
            self.failures -= 1
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:5000/")
        return 0


class _Waits:
    """A stop event that records each wait instead of sleeping, and is set after ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seconds: list[float] = []

    def is_set(self) -> bool:
        return len(self.seconds) >= self.limit

    def wait(self, seconds: float) -> bool:
        self.seconds.append(round(seconds, 3))
        return self.is_set()


def test_a_pump_whose_emulator_is_gone_backs_off_and_logs_one_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pump = EventPump(
        Chalice(app_name="no-sources"), sqs=object(), dynamodb=object(), streams=object()
    )
    source = _GoneEmulator(failures=11)
    waits = _Waits(limit=13)
    # One source's polling loop, driven here with waits that do not sleep.
    pump._stop = waits  # type: ignore[assignment]
    with caplog.at_level("INFO", logger="tutorbook.local.pump"):
        pump._run(source)  # type: ignore[arg-type]

    # 0.2 s after the first failure, doubling up to 30 s; after recovery, the idle wait again.
    assert waits.seconds == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0, 30.0, 0.2, 0.2]
    records = [r for r in caplog.records if r.name == "tutorbook.local.pump"]
    assert [r.exc_info is not None for r in records].count(True) == 1  # one traceback
    assert records[0].exc_info is not None
    assert all("\n" not in r.getMessage() for r in records)  # the rest: one line each
    assert "works again after 11 failures" in records[-1].getMessage()
