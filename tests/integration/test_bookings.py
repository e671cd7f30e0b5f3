"""Bookings over HTTP: validation, instructor time, views, idempotency, stamps, request budgets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.support.bookings import World, future, make_world, next_start


@pytest.fixture
def world(api) -> World:
    return make_world(api)


def _raw_booking(aws, tenant_id: str, booking_id: str) -> dict[str, Any]:
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(aws["MAIN_TABLE"])
    key = {"pk": f"T#{tenant_id}#BOOKING#{booking_id}", "sk": "BOOKING"}
    return dict(table.get_item(Key=key)["Item"])


def _count_items(aws, prefix: str) -> int:
    # Test-only inspection of the emulator (never on a request path).
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(aws["MAIN_TABLE"])
    return sum(1 for i in table.scan()["Items"] if i["pk"].startswith(prefix))


# --- 4. validation -----------------------------------------------------------------------------
def test_request_validation_answers_422_or_404_and_writes_nothing(world, aws):
    api, tok = world.api, world.token("student")
    ok = {"course_id": world.course, "starts_at": next_start(), "duration_minutes": 60}
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    cases: list[tuple[dict[str, Any], int, str | None]] = [
        ({"starts_at": past}, 422, "starts_at"),
        ({"starts_at": "2099-01-01T10:00:00"}, 422, "starts_at"),  # naive
        ({"starts_at": "tomorrow"}, 422, "starts_at"),
        ({"duration_minutes": 14}, 422, "duration_minutes"),
        ({"duration_minutes": 241}, 422, "duration_minutes"),
        ({"course_id": world.draft}, 404, None),  # a draft is invisible to students
        ({"course_id": "01NOSUCHCOURSE"}, 404, None),
        ({"instructor_id": world.ids["other_student"]}, 422, "instructor_id"),
        ({"instructor_id": world.ids["admin"]}, 422, "instructor_id"),
        ({"instructor_id": "01NOSUCHUSER"}, 404, None),
        ({"note": "x" * 2001}, 422, "note"),
        ({"surprise": 1}, 422, "surprise"),
        ({"course_id": "bad#id"}, 422, "course_id"),
    ]
    for change, status, field in cases:
        r = api.post("/bookings", {**ok, **change}, token=tok)
        assert r.status == status, (change, r.body)
        assert r.error_code == ("validation_error" if status == 422 else "not_found")
        assert set(r.json["error"]) == {"code", "message", "details"}
        if field:
            assert field in [d["field"] for d in r.json["error"]["details"]], r.json
    # a course of another tenant is not found either
    other = make_world(api, "globex")
    r = api.post("/bookings", {**ok, "course_id": other.course}, token=tok)
    assert r.status == 404
    assert api.get("/bookings", token=world.token("admin")).json["items"] == []
    assert _count_items(aws, f"T#{world.tenant_id}#BOOKING#") == 0


def test_inactive_instructor_is_refused_as_preference_and_for_assignment(world):
    api, admin = world.api, world.token("admin")
    iid = world.ids["other_instructor"]
    assert api.patch(f"/users/{iid}", {"active": False}, token=admin).status == 200
    r = api.post(
        "/bookings",
        {
            "course_id": world.course,
            "starts_at": next_start(),
            "duration_minutes": 30,
            "instructor_id": iid,
        },
        token=world.token("student"),
    )
    assert r.status == 422 and r.json["error"]["details"][0]["field"] == "instructor_id"
    b = world.booking_in("approved")
    for instructor, status in [(iid, 422), (world.ids["student"], 422), ("01NOSUCH", 404)]:
        r = world.act("admin", b["id"], "assign", {"instructor_id": instructor})
        assert r.status == status, r.body
    assert world.get(b["id"]).json["status"] == "approved"
    # a valid preference is kept as requested_instructor_id
    pref = world.request(instructor_id=world.ids["instructor"], note="Evening please")
    assert pref["requested_instructor_id"] == world.ids["instructor"]
    assert pref["note"] == "Evening please"


# --- 3. no double-booked instructor ------------------------------------------------------------
def test_overlapping_assignment_is_refused_and_cancel_frees_the_time(world, aws):
    start = future(hours=24 * 30)
    first = world.booking_in("approved", starts_at=start, duration_minutes=90)
    overlapping = world.booking_in("approved", starts_at=future(24 * 30 + 1), duration_minutes=30)
    adjacent = world.booking_in("approved", starts_at=future(24 * 30 + 1.5), duration_minutes=60)
    again = world.booking_in("approved", starts_at=future(24 * 30 + 1), duration_minutes=30)
    assert world.act("admin", first["id"], "assign").status == 200
    r = world.act("admin", overlapping["id"], "assign")
    assert r.status == 409 and r.error_code == "instructor_unavailable"
    assert world.get(overlapping["id"]).json["status"] == "approved"
    # back-to-back is fine (10:00-11:30 then 11:30-12:30)
    assert world.act("admin", adjacent["id"], "assign").status == 200
    # another instructor is free at that time
    r = world.act(
        "admin", overlapping["id"], "assign", {"instructor_id": world.ids["other_instructor"]}
    )
    assert r.status == 200
    assert world.act("admin", again["id"], "assign").status == 409
    locks = f"T#{world.tenant_id}#INSTRUCTOR#{world.ids['instructor']}#SLOT#"
    assert _count_items(aws, locks) == 6 + 4  # 90 min = 6 blocks, 60 min = 4 blocks
    # cancelling the first frees its time in the same transaction: now `again` fits
    assert world.act("student", first["id"], "cancel").status == 200
    assert _count_items(aws, locks) == 4
    assert world.act("admin", again["id"], "assign").status == 200
    assert _count_items(aws, locks) == 4 + 2


def test_completed_sessions_keep_their_time(world):
    start = future(hours=24 * 40)
    done = world.booking_in("completed", starts_at=start, duration_minutes=60)
    assert done["status"] == "completed"
    other = world.booking_in("approved", starts_at=start, duration_minutes=60)
    assert world.act("admin", other["id"], "assign").status == 409


def test_sessions_that_share_a_quarter_hour_overlap(world):
    a = world.booking_in("approved", starts_at=future(24 * 50, minute=0), duration_minutes=30)
    b = world.booking_in("approved", starts_at=future(24 * 50, minute=15), duration_minutes=15)
    assert world.act("admin", a["id"], "assign").status == 200
    assert world.act("admin", b["id"], "assign").error_code == "instructor_unavailable"


# --- 2. no lost update -------------------------------------------------------------------------
def test_a_stale_write_loses_with_409_and_changes_nothing(world):
    from chalicelib.context import Actor
    from chalicelib.db.bookings import BookingRepository
    from chalicelib.errors import Conflict
    from chalicelib.models.bookings import BookingStatus

    b = world.booking_in("requested")
    repo = BookingRepository(world.tenant_id, Actor("x", "y"))
    stale = repo.get(b["id"])
    assert world.act("admin", b["id"], "approve").status == 200
    with pytest.raises(Conflict):
        repo.transition(stale, BookingStatus.rejected, reason="stale")
    # same status, different version (a concurrent no-op change) also loses
    current = repo.get(b["id"])
    older = current.model_copy(update={"version": current.version - 1})
    with pytest.raises(Conflict):
        repo.transition(older, BookingStatus.cancelled)
    after = world.get(b["id"]).json
    assert (after["status"], after["version"], after["reason"]) == ("approved", 2, None)


# --- 6. views ----------------------------------------------------------------------------------
def test_views_by_role_newest_first_with_status_filter_and_cursor(world, aws_requests):
    mine = [world.request() for _ in range(3)]
    theirs = world.request("other_student")
    assigned = world.booking_in("assigned")
    api = world.api

    def ids(who, query=""):
        r = api.get(f"/bookings{query}", token=world.token(who))
        assert r.status == 200, r.body
        return [b["id"] for b in r.json["items"]]

    everything = [assigned["id"], theirs["id"], *[b["id"] for b in reversed(mine)]]
    assert ids("admin") == everything
    assert ids("student") == [assigned["id"], *[b["id"] for b in reversed(mine)]]
    assert ids("other_student") == [theirs["id"]]
    assert ids("instructor") == [assigned["id"]]
    assert ids("other_instructor") == []
    assert ids("admin", "?status=assigned") == [assigned["id"]]
    assert ids("admin", "?status=requested") == everything[1:]
    assert ids("student", "?status=requested") == [b["id"] for b in reversed(mine)]
    assert ids("instructor", "?status=assigned") == [assigned["id"]]
    assert ids("instructor", "?status=requested") == []
    # status leaves the old status view when it changes
    world.act("admin", mine[0]["id"], "approve")
    assert mine[0]["id"] not in ids("admin", "?status=requested")
    assert ids("admin", "?status=approved") == [mine[0]["id"]]

    # each page is exactly one Query
    for who in ("admin", "student", "instructor"):
        for query in ("", "?status=requested"):
            aws_requests.reset()
            ids(who, query)
            assert aws_requests.operations() == ["Query"], (who, query)

    # pagination: pages of 2 walk the whole list once
    seen, cursor = [], None
    while True:
        q = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(f"/bookings{q}", token=world.token("admin")).json
        seen += [b["id"] for b in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == everything
    r = api.get("/bookings?limit=2", token=world.token("admin"))
    cursor = r.json["next_cursor"]
    # a cursor is bound to its view and tenant; tampering is a 400
    assert api.get(f"/bookings?cursor={cursor}", token=world.token("student")).status == 400
    assert (
        api.get(f"/bookings?status=requested&cursor={cursor}", token=world.token("admin")).status
        == 400
    )
    assert api.get(f"/bookings?cursor={cursor[:-2]}xx", token=world.token("admin")).status == 400
    assert api.get("/bookings?limit=101", token=world.token("admin")).status == 422
    assert api.get("/bookings?limit=0", token=world.token("admin")).status == 422
    assert api.get("/bookings?status=lost", token=world.token("admin")).status == 422


def test_get_booking_is_404_for_anyone_who_may_not_see_it(world):
    b = world.booking_in("assigned")
    for who in ("admin", "student", "instructor"):
        r = world.get(b["id"], who)
        assert r.status == 200 and r.json["id"] == b["id"]
    for who in ("other_student", "other_instructor"):
        r = world.get(b["id"], who)
        assert r.status == 404 and r.error_code == "not_found"
        # and they cannot act on it either
        assert world.act(who, b["id"], "cancel" if who == "other_student" else "complete").status
    requested = world.request()
    # a requested instructor (preference) does not see it before assignment
    pref = world.request(instructor_id=world.ids["instructor"])
    assert world.get(pref["id"], "instructor").status == 404
    assert world.get(requested["id"], "instructor").status == 404
    assert world.get("01NOSUCHBOOKING", "admin").status == 404
    assert world.get("bad%23id", "admin").status == 404


def test_other_tenants_get_404_for_every_route(world, api):
    other = make_world(api, "globex")
    b = world.booking_in("approved")
    t = other.token("admin")
    assert api.get(f"/bookings/{b['id']}", token=t).status == 404
    for action, body in [
        ("approve", None),
        ("assign", {"instructor_id": other.ids["instructor"]}),
        ("reject", {"reason": "no"}),
        ("cancel", None),
        ("complete", None),
    ]:
        r = api.post(f"/bookings/{b['id']}/{action}", body, token=t)
        assert r.status == 404, (action, r.body)
    assert api.get("/bookings", token=t).json["items"] == []
    # an admin cannot assign another tenant's instructor
    r = world.act("admin", b["id"], "assign", {"instructor_id": other.ids["instructor"]})
    assert r.status == 404
    assert world.get(b["id"]).json["version"] == b["version"]


# --- 5. idempotency ----------------------------------------------------------------------------
def test_idempotent_retry_returns_the_first_booking_and_creates_nothing(world, aws):
    api = world.api
    body = {"course_id": world.course, "starts_at": next_start(), "duration_minutes": 45}
    key = {"Idempotency-Key": "retry-123"}
    first = api.post("/bookings", body, token=world.token("student"), headers=key)
    assert first.status == 201
    again = api.post("/bookings", body, token=world.token("student"), headers=key)
    assert again.status == 201 and again.json == first.json
    assert [b["id"] for b in api.get("/bookings", token=world.token("admin")).json["items"]] == [
        first.json["id"]
    ]
    # the same key with another body is refused, and creates nothing
    other = api.post(
        "/bookings", {**body, "duration_minutes": 60}, token=world.token("student"), headers=key
    )
    assert other.status == 422 and other.error_code == "validation_error"
    # keys are scoped to the user: another student's same key is a new booking
    theirs = api.post("/bookings", body, token=world.token("other_student"), headers=key)
    assert theirs.status == 201 and theirs.json["id"] != first.json["id"]
    # without a key, every POST is a new booking
    plain = [api.post("/bookings", body, token=world.token("student")) for _ in range(2)]
    assert plain[0].json["id"] != plain[1].json["id"]
    assert len(api.get("/bookings", token=world.token("admin")).json["items"]) == 4
    # a failed first attempt leaves no record: the retry (fixed) succeeds
    bad = {**body, "course_id": world.draft}
    k2 = {"Idempotency-Key": "retry-456"}
    assert api.post("/bookings", bad, token=world.token("student"), headers=k2).status == 404
    assert api.post("/bookings", bad, token=world.token("student"), headers=k2).status == 404
    # the record is kept at least 24 hours (TTL attribute `expiration`)
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(aws["IDEMPOTENCY_TABLE"])
    records = table.scan()["Items"]  # test-only inspection
    assert len(records) == 2
    now = datetime.now(UTC).timestamp()
    assert all(int(r["expiration"]) >= now + 24 * 3600 - 60 for r in records)
    assert all(r["status"] == "COMPLETED" for r in records)
    # an invalid key is a 422
    r = api.post("/bookings", body, token=world.token("student"), headers={"Idempotency-Key": ""})
    assert r.status in (201, 422)
    long_key = {"Idempotency-Key": "k" * 129}
    assert api.post("/bookings", body, token=world.token("student"), headers=long_key).status == 422


# --- 8. stamps ---------------------------------------------------------------------------------
def test_every_write_stamps_updated_by_and_correlation_id(world, aws):
    api = world.api
    cid = {"X-Correlation-Id": "req-request-1"}
    b = api.post(
        "/bookings",
        {"course_id": world.course, "starts_at": next_start(), "duration_minutes": 30},
        token=world.token("student"),
        headers=cid,
    ).json
    raw = _raw_booking(aws, world.tenant_id, b["id"])
    assert (raw["updated_by"], raw["correlation_id"]) == (world.ids["student"], "req-request-1")
    assert raw["type"] == "booking" and raw["tenant_id"] == world.tenant_id
    for n, action in enumerate(["approve", "assign", "complete"]):
        who = "instructor" if action == "complete" else "admin"
        body = {"instructor_id": world.ids["instructor"]} if action == "assign" else None
        r = world.later(
            lambda action=action, who=who, body=body, n=n: api.post(
                f"/bookings/{b['id']}/{action}",
                body,
                token=world.token(who),
                headers={"X-Correlation-Id": f"req-{n}"},
            )
        )
        assert r.status == 200
        raw = _raw_booking(aws, world.tenant_id, b["id"])
        assert (raw["updated_by"], raw["correlation_id"]) == (world.ids[who], f"req-{n}")
        assert r.json["updated_at"] >= r.json["created_at"]


# --- 7. the waiting queue (sparse `due` index) ---------------------------------------------------
def test_waiting_bookings_are_found_without_reading_others(world, api, aws_requests):
    from chalicelib.context import Actor
    from chalicelib.db.escalation_queue import EscalationQueue

    queue = EscalationQueue()
    admin = world.token("admin")
    assert api.patch("/tenants/me", {"escalate_after_minutes": 60}, token=admin).status == 200
    waiting = world.request()
    approved = world.booking_in("approved")
    for state in ("assigned", "completed", "rejected", "cancelled"):
        world.booking_in(state)
    now = datetime.now(UTC)
    assert queue.due(now, 100) == []
    aws_requests.reset()
    due = queue.due(now + timedelta(minutes=61), 100)
    assert aws_requests.operations() == ["Query"] * 8  # one per shard, nothing else
    assert {(d.booking_id, d.status) for d in due} == {
        (waiting["id"], "requested"),
        (approved["id"], "approved"),
    }
    assert all(d.tenant_id == world.tenant_id for d in due)
    assert all(now + timedelta(minutes=59) < d.due_at < now + timedelta(minutes=61) for d in due)
    assert len(queue.due(now + timedelta(minutes=61), 1)) == 1

    tid, actor = world.tenant_id, Actor(None, "escalation-1")
    aws_requests.reset()
    assert queue.mark(tid, waiting["id"], "requested", now, actor) is True
    assert aws_requests.operations() == ["UpdateItem"]
    escalated = world.get(waiting["id"]).json
    assert escalated["escalated_at"] is not None
    assert escalated["version"] == waiting["version"] + 1
    assert queue.mark(tid, waiting["id"], "requested", now, actor) is False  # once per state
    assert queue.mark(tid, approved["id"], "requested", now, actor) is False  # moved on
    assert queue.mark(tid, "01NOSUCH", "requested", now, actor) is False
    assert [d.booking_id for d in queue.due(now + timedelta(minutes=61), 100)] == [approved["id"]]
    # approving an escalated request puts it back on the queue for its new state
    r = world.act("admin", waiting["id"], "approve")
    assert r.status == 200 and r.json["escalated_at"] is not None
    later = {d.booking_id for d in queue.due(now + timedelta(minutes=125), 100)}
    assert later == {waiting["id"], approved["id"]}
    # leaving the waiting states takes it off the queue
    world.act("admin", approved["id"], "reject", {"reason": "full"})
    world.act("admin", waiting["id"], "assign")
    assert queue.due(now + timedelta(days=30), 100) == []


# --- request budgets ---------------------------------------------------------------------------
def test_dynamodb_requests_per_route(world, api, aws_requests):
    student, admin = world.token("student"), world.token("admin")
    body = {"course_id": world.course, "starts_at": next_start(), "duration_minutes": 60}

    def measure(call):
        for token in (student, admin):  # reads use the caller's access as this container keeps it
            api.get("/users/me", token=token)
        aws_requests.reset()
        r = call()
        assert r.status in (200, 201), r.body
        return r, aws_requests.operations()

    # Every write first reads the caller's current access (one GetItem, strongly consistent).
    caller = "GetItem"
    r, ops = measure(lambda: api.post("/bookings", body, token=student))
    # the tenant, course and preference; the instructors with their availability; the first
    # one's assigned sessions around that time (free: nobody else is read)
    check = ["BatchGetItem", "Query", "BatchGetItem", "Query"]
    assert ops == [caller, *check, "PutItem"]
    bid = r.json["id"]
    _, ops = measure(
        lambda: api.post("/bookings", body, token=student, headers={"Idempotency-Key": "k1"})
    )
    assert ops == [caller, "PutItem", *check, "PutItem", "UpdateItem"]
    _, ops = measure(
        lambda: api.post("/bookings", body, token=student, headers={"Idempotency-Key": "k1"})
    )
    assert ops == [
        caller,
        "PutItem",
    ]  # replay: the conditional put fails and returns the stored result
    _, ops = measure(lambda: api.get(f"/bookings/{bid}", token=student))
    assert ops == ["GetItem"]
    _, ops = measure(lambda: api.get("/bookings", token=admin))
    assert ops == ["Query"]
    _, ops = measure(lambda: world.act("admin", bid, "approve"))
    assert ops == [caller, "BatchGetItem", "UpdateItem"]
    _, ops = measure(lambda: world.act("admin", bid, "assign"))
    # the booking, instructor and availability; who teaches the course; the locks
    assert ops == [caller, "BatchGetItem", "GetItem", "TransactWriteItems", "GetItem"]
    _, ops = measure(lambda: world.act("instructor", bid, "complete"))
    assert ops == [caller, "GetItem", "UpdateItem"]
    other = world.booking_in("assigned")
    _, ops = measure(lambda: world.act("student", other["id"], "cancel"))
    assert ops == [caller, "GetItem", "TransactWriteItems", "GetItem"]
    other = world.booking_in("requested")
    _, ops = measure(lambda: world.act("admin", other["id"], "reject", {"reason": "no"}))
    assert ops == [caller, "GetItem", "UpdateItem"]
    fresh = world.request()
    _, ops = measure(lambda: world.act("student", fresh["id"], "cancel"))
    assert ops == [caller, "GetItem", "UpdateItem"]
