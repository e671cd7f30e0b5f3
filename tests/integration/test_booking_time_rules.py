"""Who teaches a course, the booking-time rules, too-early completion and reschedule, through
the HTTP routes (the rules cell by cell are in ``tests/unit/test_booking_time_rules.py``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from tests.support.bookings import World, give_availability, make_world
from tests.support.eventkit import StreamTap, failures, stream_event
from tests.support.http import Api

#: Mondays 09:00-17:00 UTC; 2027-02-01 is a Monday.
MONDAYS = {"time_zone": "UTC", "weekly": [{"day": "mon", "start": "09:00", "end": "17:00"}]}


@pytest.fixture
def world(api: Api, clock: Any) -> World:
    clock.now = datetime(2027, 1, 4, tzinfo=UTC)  # 2027-02-01 is inside the 90-day horizon
    w = make_world(api, available=False)
    for who in ("instructor", "other_instructor"):
        give_availability(w.tenant_id, w.ids[who], MONDAYS)
    return w


def request(world: World, starts_at: str, minutes: int = 60, **extra: Any) -> Any:
    body = {"course_id": world.course, "starts_at": starts_at, "duration_minutes": minutes}
    return world.api.post("/bookings", body | extra, token=world.token("student"))


def assigned(world: World, starts_at: str, who: str = "instructor", minutes: int = 60) -> Any:
    r = request(world, starts_at, minutes)
    assert r.status == 201, r.body
    assert world.act("admin", r.json["id"], "approve").status == 200
    a = world.act("admin", r.json["id"], "assign", {"instructor_id": world.ids[who]})
    assert a.status == 200, a.body
    return a.json


def reschedule(world: World, booking_id: str, who: str, **body: Any) -> Any:
    return world.api.post(f"/bookings/{booking_id}/reschedule", body, token=world.token(who))


def locks(aws: dict[str, str], world: World, who: str = "instructor") -> set[str]:
    """The instructor's locked blocks (test-only inspection of the emulator)."""
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(aws["MAIN_TABLE"])
    prefix = f"T#{world.tenant_id}#INSTRUCTOR#{world.ids[who]}#SLOT#"
    return {i["slot"] for i in table.scan()["Items"] if i["pk"].startswith(prefix)}


def bookings_of(world: World) -> list[dict[str, Any]]:
    return list(world.api.get("/bookings?limit=100", token=world.token("admin")).json["items"])


def slot_starts(world: World, instructor: str | None = None, minutes: int = 60) -> list[str]:
    """The HH:MM starts offered on Monday 2027-02-01."""
    day = "2027-02-01"
    query = f"course_id={world.course}&from={day}T00:00:00Z&to={day}T23:59:00Z"
    query += f"&duration_minutes={minutes}"
    if instructor:
        query += f"&instructor_id={world.ids[instructor]}"
    r = world.api.get(f"/slots?{query}", token=world.token("student"))
    assert r.status == 200, r.body
    return [s["starts_at"][11:16] for s in r.json["items"]]


# --- who teaches a course -------------------------------------------------------------------------
def test_a_course_names_its_instructors_and_only_they_are_offered_and_assigned(world):
    api, admin = world.api, world.token("admin")
    course = f"/courses/{world.course}"
    bad = api.patch(course, {"instructor_ids": [world.ids["student"], "01NOSUCH"]}, token=admin)
    assert bad.status == 422
    assert [d["field"] for d in bad.json["error"]["details"]] == [
        "instructor_ids.0",
        "instructor_ids.1",
    ]
    assert api.get(course, token=admin).json["instructor_ids"] == []
    mine = world.ids["other_instructor"]
    r = api.patch(course, {"instructor_ids": [mine, mine]}, token=admin)
    assert r.status == 200 and r.json["instructor_ids"] == [mine]
    summary = api.get("/courses", token=world.token("student")).json["items"][0]
    assert summary["instructor_ids"] == [mine]
    # Slots offer only them; a named instructor who does not teach it is offered nothing.
    r = api.get(
        f"/slots?course_id={world.course}&from=2027-02-01T09:00:00Z&to=2027-02-01T10:00:00Z"
        "&duration_minutes=60",
        token=world.token("student"),
    )
    assert [s["instructor_ids"] for s in r.json["items"]] == [[mine]] * 4  # 09:00 ... 09:45
    assert slot_starts(world, instructor="instructor") == []
    # Requests prefer and assignments need one of them.
    r = request(world, "2027-02-01T09:00:00Z", instructor_id=world.ids["instructor"])
    assert r.status == 409 and r.error_code == "instructor_unavailable"
    b = request(world, "2027-02-01T09:00:00Z").json
    world.act("admin", b["id"], "approve")
    r = world.act("admin", b["id"], "assign")  # "instructor" does not teach it
    assert r.status == 409 and r.error_code == "instructor_unavailable"
    assert world.act("admin", b["id"], "assign", {"instructor_id": mine}).status == 200
    # An empty list: every active instructor teaches it again.
    assert api.patch(course, {"instructor_ids": []}, token=admin).json["instructor_ids"] == []
    assert slot_starts(world, instructor="instructor") != []


def test_an_instructor_names_teachers_of_their_own_course_only(world):
    api = world.api
    own = api.post(
        "/courses",
        {"title": "Geometry", "instructor_ids": [world.ids["instructor"]]},
        token=world.token("instructor"),
    )
    assert own.status == 201 and own.json["instructor_ids"] == [world.ids["instructor"]]
    r = api.patch(
        f"/courses/{world.course}",
        {"instructor_ids": [world.ids["instructor"]]},
        token=world.token("instructor"),
    )
    assert r.status == 403
    assert (
        api.get(f"/courses/{world.course}", token=world.token("admin")).json["instructor_ids"] == []
    )


# --- booking-time rules --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("starts_at", "minutes", "field"),
    [
        ("2027-02-01T09:05:00Z", 60, "starts_at"),  # off the grid
        ("2027-02-01T09:00:30Z", 60, "starts_at"),  # seconds
        ("2027-02-01T09:00:00.5Z", 60, "starts_at"),  # microseconds
        ("2027-02-01T09:00:00Z", 50, "duration_minutes"),  # not whole quarter hours
        ("2027-01-04T01:00:00Z", 60, "starts_at"),  # inside the 120 minutes' notice
        ("2027-04-05T09:00:00Z", 60, "starts_at"),  # past the 90-day horizon
    ],
)
def test_a_time_off_the_rules_is_a_validation_error_and_books_nothing(
    world, starts_at, minutes, field
):
    r = request(world, starts_at, minutes)
    assert r.status == 422 and r.error_code == "validation_error", r.body
    assert [d["field"] for d in r.json["error"]["details"]] == [field]
    assert bookings_of(world) == []


def test_a_time_nobody_is_free_is_no_availability(world):
    r = request(world, "2027-02-02T09:00:00Z")  # a Tuesday: nobody works
    assert r.status == 409 and r.error_code == "no_availability"
    r = request(world, "2027-02-01T16:30:00Z")  # runs past 17:00
    assert r.status == 409 and r.error_code == "no_availability"
    assigned(world, "2027-02-01T09:00:00Z", "instructor")
    assigned(world, "2027-02-01T09:00:00Z", "other_instructor")
    r = request(world, "2027-02-01T09:30:00Z")  # both hold a session then
    assert r.status == 409 and r.error_code == "no_availability"
    assert len(bookings_of(world)) == 2
    # A preferred instructor must be free; the other may be.
    busy = request(world, "2027-02-01T10:45:00Z", instructor_id=world.ids["instructor"])
    assert busy.status == 201  # 10:45 is after both sessions end at 10:00
    r = request(world, "2027-02-01T09:45:00Z", 30, instructor_id=world.ids["instructor"])
    assert r.status == 409 and r.error_code == "instructor_unavailable"


def test_assignment_needs_the_instructor_available_then(world, aws):
    give_availability(world.tenant_id, world.ids["other_instructor"], {"time_zone": "UTC"})
    b = request(world, "2027-02-01T11:00:00Z").json
    world.act("admin", b["id"], "approve")
    r = world.act("admin", b["id"], "assign", {"instructor_id": world.ids["other_instructor"]})
    assert r.status == 409 and r.error_code == "instructor_unavailable"
    assert world.get(b["id"]).json["status"] == "approved"
    assert locks(aws, world, "other_instructor") == set()
    assert world.act("admin", b["id"], "assign").status == 200


def test_completing_before_the_start_is_too_early(world, clock):
    b = assigned(world, "2027-02-01T09:00:00Z")
    path = f"/bookings/{b['id']}/complete"
    r = world.api.post(path, None, token=world.token("instructor"))
    assert r.status == 409 and r.error_code == "too_early"
    assert world.get(b["id"]).json == b
    clock.now = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)  # at the start: allowed
    r = world.api.post(path, None, token=world.token("instructor"))
    assert r.status == 200 and r.json["status"] == "completed"


# --- reschedule -----------------------------------------------------------------------------
def test_the_student_moves_a_waiting_booking_and_the_status_stays(world):
    b = request(world, "2027-02-01T09:00:00Z").json
    r = reschedule(world, b["id"], "student", starts_at="2027-02-01T13:00:00Z")
    assert r.status == 200, r.body
    moved = r.json
    assert moved["starts_at"] == "2027-02-01T13:00:00Z" and moved["duration_minutes"] == 60
    assert (moved["status"], moved["version"]) == ("requested", b["version"] + 1)
    world.act("admin", b["id"], "approve")
    r = reschedule(world, b["id"], "student", starts_at="2027-02-01T14:00:00Z", duration_minutes=30)
    assert r.status == 200 and (r.json["status"], r.json["duration_minutes"]) == ("approved", 30)
    assert world.get(b["id"]).json["starts_at"] == "2027-02-01T14:00:00Z"


def test_who_may_move_a_booking(world):
    b = request(world, "2027-02-01T09:00:00Z").json
    to = {"starts_at": "2027-02-01T10:00:00Z"}
    assert reschedule(world, b["id"], "other_student", **to).status == 404
    assert reschedule(world, b["id"], "instructor", **to).status == 403
    a = assigned(world, "2027-02-01T13:00:00Z")
    r = reschedule(world, a["id"], "student", **to)
    assert r.status == 403  # only an admin moves an assigned booking
    assert world.get(a["id"]).json == a
    done = world.act("admin", request(world, "2027-02-01T15:00:00Z").json["id"], "reject")
    r = reschedule(world, done.json["id"], "admin", **to)
    assert r.status == 409 and r.error_code == "invalid_transition"
    for bad in ({"starts_at": "2027-02-01T10:10:00Z"}, {**to, "duration_minutes": 20}, {}):
        assert reschedule(world, b["id"], "student", **bad).status == 422
    r = reschedule(world, b["id"], "student", starts_at="2027-02-02T10:00:00Z")  # Tuesday
    assert r.status == 409 and r.error_code == "no_availability"
    assert world.get(b["id"]).json == b


def test_moving_an_assigned_booking_frees_the_old_time_and_claims_the_new(world, aws):
    b = assigned(world, "2027-02-01T09:00:00Z")
    assert locks(aws, world) == {f"2027-02-01T09:{m}" for m in ("00", "15", "30", "45")}
    assert "09:00" not in slot_starts(world, "instructor", 30)
    r = reschedule(world, b["id"], "admin", starts_at="2027-02-01T09:30:00Z", duration_minutes=45)
    assert r.status == 200, r.body
    assert (r.json["status"], r.json["version"]) == ("assigned", b["version"] + 1)
    assert locks(aws, world) == {"2027-02-01T09:30", "2027-02-01T09:45", "2027-02-01T10:00"}
    # The start index follows: the old time is offered again, the new one is not.
    offered = slot_starts(world, "instructor", 30)
    assert "09:00" in offered and "10:15" in offered
    assert not {"09:30", "09:45", "10:00"} & set(offered)
    # Another session can take the freed time.
    other = assigned(world, "2027-02-01T09:00:00Z", minutes=30)
    assert other["status"] == "assigned"


def test_moving_onto_the_instructors_other_session_changes_nothing(world, aws):
    mine = assigned(world, "2027-02-01T09:00:00Z")
    theirs = assigned(world, "2027-02-01T11:00:00Z")
    before = locks(aws, world)
    r = reschedule(world, mine["id"], "admin", starts_at="2027-02-01T10:30:00Z")
    assert r.status == 409 and r.error_code == "instructor_unavailable"
    assert world.get(mine["id"]).json == mine
    assert world.get(theirs["id"]).json == theirs
    assert locks(aws, world) == before
    # ...and outside the instructor's availability, likewise
    r = reschedule(world, mine["id"], "admin", starts_at="2027-02-01T16:30:00Z")
    assert r.status == 409 and r.error_code == "instructor_unavailable"
    assert locks(aws, world) == before


def test_a_move_losing_a_block_to_a_concurrent_transaction_changes_nothing(world, aws, monkeypatch):
    from pynamodb.connection.base import Connection
    from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

    b = assigned(world, "2027-02-01T09:00:00Z")
    before = locks(aws, world)
    original = Connection.transact_write_items

    def losing(self: Any, *args: Any, **kwargs: Any) -> Any:
        n = sum(len(kwargs.get(k) or []) for k in kwargs if k.endswith("_items"))
        # the booking update is last (updates follow puts); a claimed block is held elsewhere
        reasons = ["None"] * (n - 2) + ["TransactionConflict", "None"]
        cause = VerboseClientError(
            {"Error": {"Code": "TransactionCanceledException", "Message": "conflict"}},
            "TransactWriteItems",
            cancellation_reasons=[CancellationReason(code=c) for c in reasons],
        )
        monkeypatch.setattr(Connection, "transact_write_items", original)
        raise TransactWriteError("cancelled", cause=cause)

    monkeypatch.setattr(Connection, "transact_write_items", losing)
    r = reschedule(world, b["id"], "admin", starts_at="2027-02-01T13:00:00Z")
    assert r.status == 409 and r.error_code == "instructor_unavailable"
    assert world.get(b["id"]).json == b and locks(aws, world) == before


def test_a_reschedule_is_audited_with_the_old_and_new_time(world, client, aws):
    tap = StreamTap(aws["MAIN_TABLE"])
    b = request(world, "2027-02-01T09:00:00Z").json
    tap.skip()
    r = world.api.post(
        f"/bookings/{b['id']}/reschedule",
        {"starts_at": "2027-02-01T13:00:00Z"},
        token=world.token("student"),
        headers={"X-Correlation-Id": "move-1"},
    )
    assert r.status == 200
    payload = client.lambda_.invoke("record_audit", stream_event(tap.records())).payload
    assert failures(payload) == []
    page = world.api.get(
        f"/audit?entity_type=booking&entity_id={b['id']}", token=world.token("admin")
    ).json
    entry = page["items"][0]
    assert entry["action"] == "updated" and entry["correlation_id"] == "move-1"
    assert entry["actor_id"] == world.ids["student"]
    assert entry["before"]["starts_at"].startswith("2027-02-01T09:00:00")
    assert entry["after"]["starts_at"].startswith("2027-02-01T13:00:00")
    assert entry["before"]["status"] == entry["after"]["status"] == "requested"
    assert json.dumps(entry)  # a plain JSON document


def test_the_other_tenant_cannot_move_a_booking(world, api):
    other = make_world(api, slug="globex")
    b = request(world, "2027-02-01T09:00:00Z").json
    r = api.post(
        f"/bookings/{b['id']}/reschedule",
        {"starts_at": "2027-02-01T10:00:00Z"},
        token=other.token("admin"),
    )
    assert r.status == 404
    assert world.get(b["id"]).json == b


@pytest.mark.parametrize("change", [{"active": False}, {"role": "student"}])
def test_an_assigned_booking_does_not_move_to_a_new_time_of_a_former_instructor(world, aws, change):
    """The new time follows the assignment rule: the instructor must (still) be an active
    instructor; one an admin deactivated or made a student gets no new session time."""
    b = assigned(world, "2027-02-01T09:00:00Z")
    before = locks(aws, world)
    r = world.api.patch(f"/users/{world.ids['instructor']}", change, token=world.token("admin"))
    assert r.status == 200, r.body
    r = reschedule(world, b["id"], "admin", starts_at="2027-02-01T13:00:00Z")
    assert r.status == 409 and r.error_code == "instructor_unavailable", r.body
    assert world.get(b["id"]).json == b
    assert locks(aws, world) == before
