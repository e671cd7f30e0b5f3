"""Deleting a course or a module removes everything under it, in BatchWriteItem chunks of 25,
and every removed item is a REMOVE record in the table's stream for the audit log."""

from __future__ import annotations

from typing import Any

import boto3

from tests.support.accounts import new_user
from tests.support.catalog import make_course, make_lesson, make_module, partition, seed_tree
from tests.support.http import Api


def _stream_records(aws: dict[str, str]) -> list[dict[str, Any]]:
    streams = boto3.client("dynamodbstreams")
    arn = aws["MAIN_TABLE_STREAM_ARN"]
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            out = streams.get_records(ShardIterator=iterator, Limit=1000)
            records.extend(out["Records"])
            if not out["Records"]:
                break
            iterator = out.get("NextShardIterator")
    return records


def _removed_keys(records: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (r["dynamodb"]["Keys"]["pk"]["S"], r["dynamodb"]["Keys"]["sk"]["S"]): r["dynamodb"]
        for r in records
        if r["eventName"] == "REMOVE"
    }


def test_deleting_a_course_deletes_its_tree_in_batches(api: Api, acme, aws, aws_requests) -> None:
    owner = new_user(acme, "owner@acme.test", "instructor")
    cid = seed_tree(acme, owner["id"], modules=3, lessons=12, title="Big")["id"]
    other = seed_tree(acme, owner["id"], modules=1, lessons=0, title="Keep")["id"]
    stored = partition(aws, cid, acme.tenant["id"])
    assert len(stored) == 1 + 3 + 36

    aws_requests.reset()
    r = api.delete(
        f"/courses/{cid}", token=acme.token, headers={"X-Correlation-Id": "delete-big-course"}
    )
    assert r.status == 204 and r.body == b""
    ops = aws_requests.operations()
    # 40 items: read the tree, mark the course, read its 39 children and mark them with the
    # deleter (25 + 14 puts), then 25 + 15 deletes.
    # (after the caller's access, read fresh for every write)
    assert ops == ["GetItem", "Query", "UpdateItem", "Query"] + ["BatchWriteItem"] * 4

    assert partition(aws, cid, acme.tenant["id"]) == []  # nothing orphaned
    assert api.get(f"/courses/{cid}", token=acme.token).status == 404
    assert [c["id"] for c in api.get("/courses", token=acme.token).json["items"]] == [other]
    assert len(partition(aws, other, acme.tenant["id"])) == 2
    assert api.delete(f"/courses/{cid}", token=acme.token).status == 404

    removed = _removed_keys(_stream_records(aws))
    for item in stored:
        assert (item["pk"], item["sk"]) in removed, item["sk"]
        old = removed[(item["pk"], item["sk"])]["OldImage"]
        assert old["type"]["S"] in {"course", "module", "lesson"}
    # The course's last image names who deleted it and under which request.
    course_old = removed[(f"T#{acme.tenant['id']}#COURSE#{cid}", "COURSE")]["OldImage"]
    assert course_old["updated_by"]["S"] == acme.admin["id"]
    assert course_old["correlation_id"]["S"] == "delete-big-course"
    assert "deleting_at" in course_old


def test_deleting_a_module_deletes_its_lessons_only(api: Api, acme, aws) -> None:
    t = acme.token
    tree = seed_tree(acme, acme.admin["id"], modules=2, lessons=[30, 1], published=False)
    cid, doomed = tree["id"], tree["modules"][0]["id"]
    r = api.delete(f"/courses/{cid}/modules/{doomed}", token=t)
    assert r.status == 204
    items = partition(aws, cid, acme.tenant["id"])
    assert sorted(i["type"] for i in items) == ["course", "lesson", "module"]
    tree = api.get(f"/courses/{cid}", token=t).json
    assert [m["title"] for m in tree["modules"]] == ["M1"]
    assert [x["title"] for x in tree["modules"][0]["lessons"]] == ["M1L0"]
    removed = _removed_keys(_stream_records(aws))
    assert sum(1 for _pk, sk in removed if sk.startswith(f"MODULE#{doomed}")) == 31
    # The deleted module can no longer take lessons or be deleted again.
    r = api.post(f"/courses/{cid}/modules/{doomed}/lessons", {"title": "late"}, token=t)
    assert r.status == 404
    assert api.delete(f"/courses/{cid}/modules/{doomed}", token=t).status == 404


def test_deleting_a_lesson(api: Api, acme, aws) -> None:
    t = acme.token
    cid = make_course(api, t)["id"]
    mid = make_module(api, t, cid)["id"]
    a = make_lesson(api, t, cid, mid, "a")["id"]
    make_lesson(api, t, cid, mid, "b")
    assert api.delete(f"/courses/{cid}/modules/{mid}/lessons/{a}", token=t).status == 204
    lessons = api.get(f"/courses/{cid}", token=t).json["modules"][0]["lessons"]
    assert [(x["title"], x["position"]) for x in lessons] == [("b", 0)]
    assert api.delete(f"/courses/{cid}/modules/{mid}/lessons/{a}", token=t).status == 404
    assert len(partition(aws, cid, acme.tenant["id"])) == 3
