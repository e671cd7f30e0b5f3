"""The local stack's emulator stays small and fast without answering differently.

The adaptations of :mod:`chalicelib.local.emulator` must leave every answer of moto as it was
(items, pages, stream records, failed transactions) while keeping copies from piling up; the
retention policy trims only what nobody needs.
"""

from __future__ import annotations

import gc
import random
import threading
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

from chalicelib.local import emulator
from chalicelib.local.emulator import Housekeeper, Retention, WeakTracker, trim_stream
from chalicelib.local.mail import kept_mail
from chalicelib.local.resources import create_resources
from tests.support.emulator import isolated_emulator

REGION = "us-east-1"


def _world() -> tuple[Any, dict[str, str]]:
    env = create_resources(stage="emu")
    return boto3.client("dynamodb", region_name=REGION), env


def _item(n: int, tenant: str) -> dict[str, Any]:
    return {
        "pk": {"S": f"T#{tenant}#C#{n:04d}"},
        "sk": {"S": "COURSE" if n % 3 else f"M#{n:04d}"},
        "gsi1pk": {"S": f"T#{tenant}#COURSES"},
        "gsi1sk": {"S": f"{(n * 7919) % 1000:04d}#{n:04d}"},
        "n": {"N": str(n % 17)},
        "title": {"S": f"course {n}"},
        "meta": {
            "M": {
                "tags": {"SS": [f"t{n % 3}", "all"]},
                "sizes": {"NS": ["1", str(n)]},
                "steps": {"L": [{"S": "a"}, {"N": "2.50"}, {"BOOL": n % 2 == 0}, {"NULL": True}]},
                "blob": {"B": b"bin-%d" % n},
            }
        },
        "flag": {"BOOL": n % 5 == 0},
    }


def _workload(seed: int) -> list[Any]:
    """The same mixed sequence of writes, transactions and reads; answers every read's result."""
    rng = random.Random(seed)
    ddb, env = _world()
    table = env["MAIN_TABLE"]
    seen: list[Any] = []
    for step in range(110):
        n = rng.randrange(30)
        tenant = rng.choice(["a", "b", "ab"])
        item = _item(n, tenant)
        key = {"pk": item["pk"], "sk": item["sk"]}
        action = rng.random()
        try:
            if action < 0.3:
                ddb.put_item(TableName=table, Item=item)
            elif action < 0.4:
                ddb.delete_item(TableName=table, Key=key)
            elif action < 0.55:
                ddb.update_item(
                    TableName=table,
                    Key=key,
                    UpdateExpression="SET title = :t, gsi1pk = :g ADD n :one",
                    ExpressionAttributeValues={
                        ":t": {"S": f"renamed {step}"},
                        ":g": {"S": f"T#{rng.choice(['a', 'b'])}#COURSES"},
                        ":one": {"N": "1"},
                    },
                )
            elif action < 0.7:
                # Two writes that stand or fall together; half of them fail their condition.
                other = _item(rng.randrange(30), tenant)
                ddb.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": table, "Item": other}},
                        {
                            "Update": {
                                "TableName": table,
                                "Key": key,
                                "UpdateExpression": "SET title = :t",
                                "ConditionExpression": "attribute_exists(pk)",
                                "ExpressionAttributeValues": {":t": {"S": f"tx {step}"}},
                            }
                        },
                    ]
                )
            elif action < 0.85:
                page: dict[str, Any] = {}
                while True:
                    page = ddb.query(
                        TableName=table,
                        IndexName="gsi1",
                        KeyConditionExpression="gsi1pk = :p",
                        ExpressionAttributeValues={":p": {"S": f"T#{tenant}#COURSES"}},
                        Limit=4,
                        ScanIndexForward=rng.random() < 0.5,
                        **(
                            {"ExclusiveStartKey": page["LastEvaluatedKey"]}
                            if "LastEvaluatedKey" in page
                            else {}
                        ),
                    )
                    seen.append(("gsi", page["Items"]))
                    if "LastEvaluatedKey" not in page:
                        break
            else:
                seen.append(
                    (
                        "query",
                        ddb.query(
                            TableName=table,
                            KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
                            ExpressionAttributeValues={":p": item["pk"], ":s": {"S": "C"}},
                        )["Items"],
                    )
                )
        except ClientError as exc:
            seen.append(("error", exc.response["Error"]["Code"]))
    seen.append(("scan", ddb.scan(TableName=table)["Items"]))
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
    seen.append(
        (
            "stream",
            [
                (r["eventName"], r["dynamodb"]["Keys"], r["dynamodb"].get("NewImage"))
                for r in records
            ],
        )
    )
    return seen


def _plain_and_adapted(workload: Callable[[int], list[Any]], seed: int) -> tuple[Any, Any]:
    """The answers of ``workload`` on moto as it comes, then on the local stack's emulator."""
    with isolated_emulator():
        plain = workload(seed)
    emulator.install()
    try:
        with isolated_emulator():
            adapted = workload(seed)
    finally:
        emulator.uninstall()
    return plain, adapted


def test_the_adapted_emulator_answers_every_read_write_and_transaction_as_moto_does() -> None:
    plain, adapted_answers = _plain_and_adapted(_workload, seed=7)

    assert ("error", "TransactionCanceledException") in plain  # failed transactions happened
    assert len(adapted_answers) == len(plain)
    for mine, theirs in zip(adapted_answers, plain, strict=True):
        assert mine == theirs


def _paged_queries(seed: int) -> list[Any]:
    """Queries with sort-key conditions, limits, both directions and start keys on the table's
    key and on an index, between writes that move items in and out of their pages."""
    rng = random.Random(seed)
    ddb, env = _world()
    table = env["MAIN_TABLE"]
    seen: list[Any] = []

    def row(n: int, tenant: str) -> dict[str, Any]:
        return {
            "pk": {"S": f"T#{tenant}#LOG"},
            "sk": {"S": f"E#{(n * 31) % 200:03d}#{n:03d}"},
            "gsi1pk": {"S": f"T#{tenant}#BYDAY"},
            "gsi1sk": {"S": f"D#{n % 9}#{(n * 7) % 50:02d}"},
        }

    conditions = [
        ("", {}),
        (" AND {k} = :a", {":a": "{p}#3#21"}),
        (" AND {k} < :a", {":a": "{p}#4"}),
        (" AND {k} <= :a", {":a": "{p}#4#28"}),
        (" AND {k} > :a", {":a": "{p}#6"}),
        (" AND {k} >= :a", {":a": "{p}#2#14"}),
        (" AND {k} BETWEEN :a AND :b", {":a": "{p}#2", ":b": "{p}#5#99"}),
        (" AND begins_with({k}, :a)", {":a": "{p}#1"}),
        (" AND begins_with({k}, :a)", {":a": "{p}#8#0"}),
    ]
    for step in range(400):
        tenant = rng.choice(["a", "b"])
        n = rng.randrange(160)
        action = rng.random()
        if action < 0.5:
            ddb.put_item(TableName=table, Item=row(n, tenant))
        elif action < 0.6:
            old = row(n, tenant)
            ddb.delete_item(TableName=table, Key={"pk": old["pk"], "sk": old["sk"]})
        elif action < 0.7:
            old = row(n, tenant)
            try:
                ddb.update_item(
                    TableName=table,
                    Key={"pk": old["pk"], "sk": old["sk"]},
                    UpdateExpression="SET gsi1sk = :s",
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeValues={":s": {"S": f"D#{step % 9}#{step % 50:02d}"}},
                )
            except ClientError as exc:
                seen.append(("error", exc.response["Error"]["Code"]))
        elif action < 0.78:
            moved = row(n, tenant) | {"gsi1sk": {"S": f"D#{step % 9}#{(step * 3) % 50:02d}"}}
            seen.extend(_move_unless_missing(ddb, table, moved, row(rng.randrange(160), tenant)))
        else:
            on_index = rng.random() < 0.5
            hash_attr, key_attr = ("gsi1pk", "gsi1sk") if on_index else ("pk", "sk")
            prefix = "D" if on_index else "E"
            text, values = rng.choice(conditions)
            expression = f"{hash_attr} = :h" + text.format(k=key_attr)
            attribute_values = {":h": row(0, tenant)[hash_attr]} | {
                name: {"S": value.format(p=prefix)} for name, value in values.items()
            }
            page: dict[str, Any] = {}
            limit = rng.choice([1, 3, 7, 500])
            forward = rng.random() < 0.5
            while True:
                page = ddb.query(
                    TableName=table,
                    **({"IndexName": "gsi1"} if on_index else {}),
                    KeyConditionExpression=expression,
                    ExpressionAttributeValues=attribute_values,
                    Limit=limit,
                    ScanIndexForward=forward,
                    **(
                        {"ExclusiveStartKey": page["LastEvaluatedKey"]}
                        if "LastEvaluatedKey" in page
                        else {}
                    ),
                )
                seen.append((expression, page["Items"], page.get("LastEvaluatedKey")))
                seen.append(("counts", page["Count"], page["ScannedCount"]))
                if "LastEvaluatedKey" not in page:
                    break
    return seen


def _move_unless_missing(
    ddb: Any, table: str, moved: dict[str, Any], other: dict[str, Any]
) -> list[Any]:
    """A transaction that moves an item within the index and then stands or falls on whether
    ``other`` exists: undone, the item is back in its old place."""
    try:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": moved}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"pk": other["pk"], "sk": other["sk"]},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    except ClientError as exc:
        return [("error", exc.response["Error"]["Code"])]
    return []


def test_queries_read_their_page_and_answer_as_moto_does() -> None:
    plain, adapted_answers = _plain_and_adapted(_paged_queries, seed=11)

    pages = [entry for entry in plain if entry[0] not in ("error", "counts")]
    assert ("error", "TransactionCanceledException") in plain  # transactions were undone
    assert any(entry[2] is not None for entry in pages)  # pages were followed
    assert any(entry[1] for entry in pages if "BETWEEN" in entry[0])  # conditions matched
    assert len(adapted_answers) == len(plain)
    for mine, theirs in zip(adapted_answers, plain, strict=True):
        assert mine == theirs


def _transactions_across_tables(seed: int) -> list[Any]:
    """Transactions that put, replace, update and delete in a table with a sort key and in one
    without (new and existing items, new and existing partitions), half of them undone by a
    failed condition; answers what each table holds after each one."""
    rng = random.Random(seed)
    ddb, env = _world()
    main, ids = env["MAIN_TABLE"], env["IDEMPOTENCY_TABLE"]
    for k in range(4):  # the condition below holds for k0..k3 and fails for k4..k7
        ddb.put_item(TableName=ids, Item={"id": {"S": f"k{k}"}})
    seen: list[Any] = []
    for step in range(60):
        n = rng.randrange(12)
        key = {"pk": _item(n, "a")["pk"], "sk": _item(n, "a")["sk"]}
        operations: list[dict[str, Any]] = [
            {"Put": {"TableName": main, "Item": _item(rng.randrange(12), rng.choice("ab"))}},
            {
                "Put": {
                    "TableName": ids,
                    "Item": {"id": {"S": f"k{8 + rng.randrange(4)}"}, "at": {"N": str(step)}},
                }
            },
            rng.choice(
                [
                    {"Delete": {"TableName": main, "Key": key}},
                    {
                        "Update": {
                            "TableName": main,
                            "Key": key,
                            "UpdateExpression": "SET title = :t, gsi1sk = :s",
                            "ExpressionAttributeValues": {
                                ":t": {"S": f"step {step}"},
                                ":s": {"S": f"{step:04d}"},
                            },
                        }
                    },
                    {
                        "Delete": {
                            "TableName": ids,
                            "Key": {"id": {"S": f"k{8 + rng.randrange(4)}"}},
                        }
                    },
                ]
            ),
            {
                "ConditionCheck": {
                    "TableName": ids,
                    "Key": {"id": {"S": f"k{rng.randrange(8)}"}},
                    "ConditionExpression": "attribute_exists(id)",
                }
            },
        ]
        try:
            ddb.transact_write_items(TransactItems=operations)
        except ClientError as exc:
            seen.append(("error", exc.response["Error"]["Code"]))
        seen.append(("main", sorted(str(i) for i in ddb.scan(TableName=main)["Items"])))
        seen.append(("ids", sorted(str(i) for i in ddb.scan(TableName=ids)["Items"])))
        seen.append(
            (
                "index",
                ddb.query(
                    TableName=main,
                    IndexName="gsi1",
                    KeyConditionExpression="gsi1pk = :p",
                    ExpressionAttributeValues={":p": {"S": "T#a#COURSES"}},
                    Limit=5,
                )["Items"],
            )
        )
    return seen


def test_undone_transactions_across_tables_leave_them_as_moto_does() -> None:
    plain, adapted_answers = _plain_and_adapted(_transactions_across_tables, seed=5)

    errors = [entry for entry in plain if entry[0] == "error"]
    assert ("error", "TransactionCanceledException") in errors  # some were undone...
    assert len(errors) < 50  # ...and some went through
    assert len(adapted_answers) == len(plain)
    for mine, theirs in zip(adapted_answers, plain, strict=True):
        assert mine == theirs


def test_transactions_no_longer_leave_copies_of_the_table_alive(adapted: None) -> None:
    from moto.dynamodb.models.dynamo_type import Item

    with isolated_emulator():
        ddb, env = _world()
        for n in range(50):
            ddb.put_item(TableName=env["MAIN_TABLE"], Item=_item(n, "a"))
        emulator.track_weakly()
        for n in range(40):
            ddb.transact_write_items(
                TransactItems=[{"Put": {"TableName": env["MAIN_TABLE"], "Item": _item(n, "b")}}]
            )
        emulator.track_weakly()
        gc.collect()
        tracked: Any = getattr(Item, "instances_tracked")  # noqa: B009 - moto adds it at run time
        live = len(list(tracked))
        # 90 items in the table; moto alone would keep ~40 copies of 50..90 items alive.
        assert live < 150
        assert isinstance(tracked, WeakTracker)


def test_a_failed_transaction_leaves_the_query_indexes_in_place(
    adapted: None, monkeypatch: Any
) -> None:
    """Undoing a transaction puts moto's copy of the table back; the copy shares the table's
    query indexes, so the next query still reads only its page instead of indexing every item
    of the table again (which made each query after a refused booking cost more as the table
    grew)."""
    with isolated_emulator():
        ddb, env = _world()
        table = env["MAIN_TABLE"]
        for n in range(300):
            ddb.put_item(TableName=table, Item=_item(n, "a"))

        def page() -> list[str]:
            items = ddb.query(
                TableName=table,
                IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :p",
                ExpressionAttributeValues={":p": {"S": "T#a#COURSES"}},
                Limit=5,
            )["Items"]
            return [i["gsi1sk"]["S"] for i in items]

        built: list[int] = []
        build = emulator._Partitions.__init__

        def counting(self: Any, *args: Any, **kwargs: Any) -> None:
            built.append(1)
            build(self, *args, **kwargs)

        monkeypatch.setattr(emulator._Partitions, "__init__", counting)
        before = page()
        assert built == [1]  # the first query indexed the partition's key once
        for n in range(5):
            # Moves an item to the front of the page, then fails on a missing item: undone.
            moved = _item(n + 10, "a") | {"gsi1sk": {"S": "0000#first"}}
            missing = {"pk": {"S": "T#a#C#none"}, "sk": {"S": "COURSE"}}
            answer = _move_unless_missing(ddb, table, moved, missing)
            assert answer == [("error", "TransactionCanceledException")]
            assert page() == before
        assert built == [1]  # ...and no query after an undone transaction indexed it again


def _records(streams: Any, iterator: str) -> list[tuple[str, str]]:
    return [
        (r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"])
        for r in streams.get_records(ShardIterator=iterator, Limit=100)["Records"]
    ]


def test_a_reader_of_the_stream_sees_no_write_of_a_failed_transaction_and_every_later_one(
    adapted: None,
) -> None:
    with isolated_emulator():
        ddb, env = _world()
        table = env["MAIN_TABLE"]
        streams = boto3.client("dynamodbstreams", region_name=REGION)
        ddb.put_item(TableName=table, Item=_item(1, "a"))
        arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
        # A consumer (the event pump) holds an iterator past what it has read...
        last = streams.get_records(
            ShardIterator=streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"],
            Limit=100,
        )["Records"][-1]["dynamodb"]["SequenceNumber"]
        iterator = streams.get_shard_iterator(
            StreamArn=arn,
            ShardId=shard["ShardId"],
            ShardIteratorType="AFTER_SEQUENCE_NUMBER",
            SequenceNumber=last,
        )["ShardIterator"]
        # ...when a transaction puts an item, fails on its second write and is undone,
        try:
            ddb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": table, "Item": _item(2, "a")}},
                    {
                        "Update": {
                            "TableName": table,
                            "Key": {"pk": {"S": "T#a#C#0099"}, "sk": {"S": "COURSE"}},
                            "UpdateExpression": "SET title = :t",
                            "ConditionExpression": "attribute_exists(pk)",
                            "ExpressionAttributeValues": {":t": {"S": "never"}},
                        }
                    },
                ]
            )
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "TransactionCanceledException"
        else:
            raise AssertionError("the transaction should have failed its condition")
        ddb.put_item(TableName=table, Item=_item(3, "a"))  # and then a real write happens.

        assert (
            ddb.get_item(
                TableName=table, Key={"pk": _item(2, "a")["pk"], "sk": _item(2, "a")["sk"]}
            ).get("Item")
            is None
        )
        # The consumer reads the real write, and nothing of the undone one.
        assert _records(streams, iterator) == [("INSERT", "T#a#C#0003")]


def test_writes_moto_keeps_when_it_refuses_a_malformed_transaction_stay_in_the_stream(
    adapted: None,
) -> None:
    """moto refuses a transaction item holding two operations only when it reaches it, after
    writing the items before it, and does not undo them: those writes stand, so their stream
    records must stay (the audit log is written from them)."""
    with isolated_emulator():
        ddb, env = _world()
        table = env["MAIN_TABLE"]
        streams = boto3.client("dynamodbstreams", region_name=REGION)
        arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        try:
            ddb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": table, "Item": _item(1, "a")}},
                    {
                        "Put": {"TableName": table, "Item": _item(2, "a")},
                        "Delete": {"TableName": table, "Key": {"pk": _item(3, "a")["pk"]}},
                    },
                ]
            )
        except ClientError:
            pass
        else:
            raise AssertionError("the transaction should have been refused")
        kept = ddb.get_item(
            TableName=table, Key={"pk": _item(1, "a")["pk"], "sk": _item(1, "a")["sk"]}
        ).get("Item")
        assert kept is not None  # moto kept the first write...
        assert _records(streams, iterator) == [("INSERT", "T#a#C#0001")]  # ...and its record


def test_a_weak_tracker_lists_live_objects_only_and_forgets_dead_references() -> None:
    class Thing:
        pass

    keep = [Thing() for _ in range(3)]
    tracker = WeakTracker([*keep, Thing(), Thing()])
    tracker.append(7)  # not weakly referenceable: kept as is
    gc.collect()
    assert list(tracker)[:3] == keep and 7 in list(tracker)
    assert len(tracker) == 4
    assert tracker.prune(force=True) == 2


class _Shard:
    def __init__(self, start: int, count: int) -> None:
        self.starting_sequence_number = start
        self.items = list(range(start, start + count))


def test_trimming_a_stream_keeps_unacknowledged_records_and_the_newest_acknowledged() -> None:
    shard = _Shard(100, 10)  # records 100..109

    assert trim_stream(shard, acknowledged=99, keep=0) == 0  # nothing acknowledged yet
    assert trim_stream(shard, acknowledged=105, keep=2) == 4  # 100..103 go; 104, 105 stay
    assert shard.items == [104, 105, 106, 107, 108, 109]
    assert shard.starting_sequence_number == 104  # sequence numbers continue as before
    assert trim_stream(shard, acknowledged=109, keep=100) == 0


def test_the_housekeeper_trims_streams_mail_iterators_and_receipts_as_the_policy_says(
    adapted: None,
) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodbstreams.models import dynamodbstreams_backends
    from moto.ses.models import ses_backends

    with isolated_emulator():
        ddb, env = _world()
        table = env["MAIN_TABLE"]
        for n in range(30):
            ddb.put_item(TableName=table, Item=_item(n, "a"))
        ses = boto3.client("sesv2", region_name=REGION)
        for n in range(7):
            ses.send_email(
                FromEmailAddress="no-reply@tutorbook.example",
                Destination={"ToAddresses": [f"u{n}@example.com"]},
                Content={
                    "Simple": {"Subject": {"Data": f"mail {n}"}, "Body": {"Text": {"Data": "x"}}}
                },
            )
        streams = boto3.client("dynamodbstreams", region_name=REGION)
        arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        shard_id = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0][
            "ShardId"
        ]
        for _ in range(12):
            streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, ShardIteratorType="LATEST")
        first = int(
            streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0][
                "SequenceNumberRange"
            ]["StartingSequenceNumber"]
        )
        acknowledged = {table: first + 19}  # the first 20 records are done with
        keeper = Housekeeper(
            threading.Lock(),
            lambda: acknowledged,
            retention=Retention(stream_records=5, mail=3, shard_iterators=4, deleted_receipts=0),
        )

        done = keeper.run_once()

        assert done.stream_records == 15 and done.mail == 4 and done.shard_iterators == 8
        assert len(dynamodbstreams_backends[DEFAULT_ACCOUNT_ID][REGION].shard_iterators) == 4
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
        assert int(shard["SequenceNumberRange"]["StartingSequenceNumber"]) == first + 15
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        assert len(streams.get_records(ShardIterator=iterator)["Records"]) == 15
        sent = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
        assert [m.subject for m in sent] == ["mail 4", "mail 5", "mail 6"]
        assert [m["number"] for m in kept_mail(keeper.mail_dropped)] == [5, 6, 7]


def test_queue_visibility_delay_and_redrive_behave_as_before(adapted: None) -> None:
    with isolated_emulator():
        env = create_resources(stage="sqs")
        sqs = boto3.client("sqs", region_name=REGION)
        url = env["NOTIFICATIONS_QUEUE_URL"]
        sqs.send_message(QueueUrl=url, MessageBody="now")
        sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)

        first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)
        assert [m["Body"] for m in first["Messages"]] == ["now"]  # "later" is delayed
        assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=first["Messages"][0]["ReceiptHandle"], VisibilityTimeout=0
        )
        again = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])
        assert again["Messages"][0]["Attributes"]["ApproximateReceiveCount"] == "2"
        counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert counts["ApproximateNumberOfMessagesDelayed"] == "1"
        assert counts["ApproximateNumberOfMessagesNotVisible"] == "1"
