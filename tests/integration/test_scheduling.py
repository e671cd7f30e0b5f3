"""Time zones, instructor availability and free slots, through the HTTP routes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.bookings import World, make_world
from tests.support.http import Api

MONDAY_9_TO_10 = [{"day": "mon", "start": "09:00", "end": "10:00"}]


def put_availability(world: World, who: str, doc: dict[str, Any], as_: str | None = None) -> Any:
    return world.api.call(
        "PUT",
        f"/users/{world.ids[who]}/availability",
        json_body=doc,
        token=world.token(as_ or who),
    )


def slots(world: World, start: str, end: str, duration: int = 60, **extra: str) -> Any:
    query = f"course_id={world.course}&from={start}&to={end}&duration_minutes={duration}"
    for name, value in extra.items():
        query += f"&{name}={value}"
    return world.api.get(f"/slots?{query}", token=world.token("student"))


def starts(response: Any) -> list[str]:
    assert response.status == 200, response.body
    return [s["starts_at"] for s in response.json["items"]]


@pytest.fixture
def world(api: Api, clock: Any) -> World:
    clock.now = datetime(2027, 1, 1, tzinfo=UTC)  # horizon: 90 days by default
    w = make_world(api, available=False)
    r = api.patch("/tenants/me", {"booking_horizon_days": 365}, token=w.token("admin"))
    assert r.status == 200, r.body
    return w


def test_availability_is_replaced_and_read_back_by_its_instructor_and_admins(world):
    doc: dict[str, Any] = {
        "time_zone": "Europe/Berlin",
        "weekly": [{"day": "tue", "start": "09:00", "end": "12:30"}],
        "exceptions": [{"date": "2027-02-02", "available": False}],
    }
    assert put_availability(world, "instructor", doc).status == 200
    for who in ("instructor", "admin"):
        got = world.api.get(
            f"/users/{world.ids['instructor']}/availability", token=world.token(who)
        )
        assert got.status == 200
        assert got.json == doc | {
            "exceptions": [doc["exceptions"][0] | {"start": None, "end": None}]
        }
    # Nobody else reads or writes it; a student has no availability.
    other = world.api.get(
        f"/users/{world.ids['instructor']}/availability", token=world.token("other_instructor")
    )
    assert other.status == 404
    assert put_availability(world, "instructor", doc, as_="other_instructor").status == 404
    assert put_availability(world, "instructor", doc, as_="student").status == 403
    assert put_availability(world, "student", doc, as_="admin").status == 422


@pytest.mark.parametrize(
    "doc",
    [
        {"time_zone": "Mars/Olympus", "weekly": []},
        # the host's own zone (a link in Debian's zone directory), not a zone name
        {"time_zone": "localtime", "weekly": []},
        {"time_zone": "UTC", "weekly": [{"day": "mon", "start": "09:10", "end": "10:00"}]},
        {"time_zone": "UTC", "weekly": [{"day": "mon", "start": "10:00", "end": "09:00"}]},
        {
            "time_zone": "UTC",
            "weekly": [
                {"day": "mon", "start": "09:00", "end": "11:00"},
                {"day": "mon", "start": "10:00", "end": "12:00"},
            ],
        },
        {"time_zone": "UTC", "exceptions": [{"date": "2027-02-01", "available": True}]},
        {"time_zone": "UTC", "weekly": [], "extra": 1},
    ],
)
def test_an_invalid_availability_is_refused_and_changes_nothing(world, doc):
    r = put_availability(world, "instructor", doc)
    assert r.status == 422 and r.error_code == "validation_error", r.body
    got = world.api.get(
        f"/users/{world.ids['instructor']}/availability", token=world.token("instructor")
    )
    assert got.json["weekly"] == []


def test_time_zones_are_validated_on_tenants_and_users(world):
    bad = world.api.patch("/tenants/me", {"time_zone": "Nowhere"}, token=world.token("admin"))
    assert bad.status == 422
    ok = world.api.patch(
        "/tenants/me",
        {"time_zone": "Asia/Kolkata", "min_notice_minutes": 0, "reminder_minutes_before": None},
        token=world.token("admin"),
    )
    assert ok.status == 200
    assert ok.json["time_zone"] == "Asia/Kolkata" and ok.json["min_notice_minutes"] == 0
    assert ok.json["reminder_minutes_before"] is None
    me = world.ids["student"]
    r = world.api.patch(f"/users/{me}", {"time_zone": "Europe/Paris"}, token=world.token("student"))
    assert r.status == 200 and r.json["time_zone"] == "Europe/Paris"
    by_admin = world.api.patch(
        f"/users/{me}", {"time_zone": "Europe/Rome"}, token=world.token("admin")
    )
    assert by_admin.status == 403


@pytest.mark.parametrize(
    ("zone", "first", "second"),
    [
        # Into daylight saving time (14 March 2027 in New York): 09:00 local moves in UTC.
        ("America/New_York", "2027-03-08T14:00:00Z", "2027-03-15T13:00:00Z"),
        # Out of it (7 November 2027).
        ("America/New_York", "2027-11-01T13:00:00Z", "2027-11-08T14:00:00Z"),
        # A zone 5 h 45 min ahead of UTC.
        ("Asia/Kathmandu", "2027-03-08T03:15:00Z", "2027-03-15T03:15:00Z"),
    ],
)
def test_a_weekly_window_stays_at_its_local_time_across_daylight_saving(world, zone, first, second):
    doc = {"time_zone": zone, "weekly": MONDAY_9_TO_10}
    assert put_availability(world, "instructor", doc).status == 200
    day = datetime.fromisoformat(first.replace("Z", "+00:00")).date()
    start = (day - timedelta(days=1)).isoformat() + "T00:00:00Z"
    end = (day + timedelta(days=9)).isoformat() + "T00:00:00Z"
    r = slots(world, start, end)
    assert starts(r) == [first, second]
    assert r.json["items"][0]["instructor_ids"] == [world.ids["instructor"]]


def test_exceptions_remove_and_add_time(world):
    doc = {
        "time_zone": "UTC",
        "weekly": [{"day": "mon", "start": "09:00", "end": "11:00"}],
        "exceptions": [
            {"date": "2027-02-01", "available": False, "start": "09:00", "end": "10:00"},
            {"date": "2027-02-08", "available": False},
            {"date": "2027-02-09", "available": True, "start": "15:00", "end": "16:00"},
        ],
    }
    assert put_availability(world, "instructor", doc).status == 200
    got = starts(slots(world, "2027-02-01T00:00:00Z", "2027-02-10T00:00:00Z"))
    assert got == ["2027-02-01T10:00:00Z", "2027-02-09T15:00:00Z"]


def test_slots_join_instructors_and_skip_assigned_time_notice_and_horizon(world, clock):
    week = {"time_zone": "UTC", "weekly": MONDAY_9_TO_10}
    assert put_availability(world, "instructor", week).status == 200
    assert put_availability(world, "other_instructor", week).status == 200
    r = slots(world, "2027-02-01T00:00:00Z", "2027-02-02T00:00:00Z", duration=30)
    assert [(s["starts_at"], len(s["instructor_ids"])) for s in r.json["items"]] == [
        ("2027-02-01T09:00:00Z", 2),
        ("2027-02-01T09:15:00Z", 2),
        ("2027-02-01T09:30:00Z", 2),
    ]
    # An assigned session takes its instructor's time; only the other one is offered then.
    booking = world.request(starts_at="2027-02-01T09:00:00Z", duration_minutes=30)
    world.act("admin", booking["id"], "approve")
    assert world.act("admin", booking["id"], "assign").status == 200
    r = slots(world, "2027-02-01T00:00:00Z", "2027-02-02T00:00:00Z", duration=30)
    assert [s["instructor_ids"] for s in r.json["items"]] == [
        [world.ids["other_instructor"]],
        [world.ids["other_instructor"]],
        sorted([world.ids["instructor"], world.ids["other_instructor"]]),
    ]
    mine = slots(
        world,
        "2027-02-01T00:00:00Z",
        "2027-02-02T00:00:00Z",
        duration=30,
        instructor_id=world.ids["instructor"],
    )
    assert starts(mine) == ["2027-02-01T09:30:00Z"]
    # Notice: nothing earlier than now + min_notice_minutes (120 by default).
    clock.now = datetime(2027, 2, 1, 7, 30, tzinfo=UTC)
    assert starts(slots(world, "2027-02-01T00:00:00Z", "2027-02-02T00:00:00Z", 30)) == [
        "2027-02-01T09:30:00Z"
    ]
    # Horizon: nothing at or after now + booking_horizon_days.
    world.api.patch("/tenants/me", {"booking_horizon_days": 1}, token=world.token("admin"))
    assert starts(slots(world, "2027-02-08T00:00:00Z", "2027-02-09T00:00:00Z", 30)) == []


@pytest.mark.parametrize(
    "query",
    [
        "from=2027-02-01T00:00:00Z&to=2027-03-05T00:00:00Z&duration_minutes=60",  # > 31 days
        "from=2027-02-02T00:00:00Z&to=2027-02-01T00:00:00Z&duration_minutes=60",
        "from=2027-02-01T00:00:00Z&to=2027-02-02T00:00:00Z&duration_minutes=50",
        "from=2027-02-01T00:00:00Z&to=2027-02-02T00:00:00Z",
        "from=yesterday&to=2027-02-02T00:00:00Z&duration_minutes=60",
    ],
)
def test_a_bad_slot_query_is_a_validation_error(world, query):
    r = world.api.get(f"/slots?course_id={world.course}&{query}", token=world.token("student"))
    assert r.status == 422, r.body


def test_slots_of_an_unknown_or_draft_course_are_not_found(world):
    for course in ("nope", world.draft):
        r = world.api.get(
            f"/slots?course_id={course}&from=2027-02-01T00:00:00Z&to=2027-02-02T00:00:00Z"
            "&duration_minutes=60",
            token=world.token("student"),
        )
        assert r.status == 404, r.body


# --- cost: flat in the number of bookings outside the range -------------------------------------
def _assigned_bookings(tenant_id: str, instructors: list[str], total: int) -> None:
    """``total`` assigned bookings outside the queried week, written straight to the table."""
    from chalicelib.context import Actor
    from chalicelib.db.booking_items import BookingItem
    from chalicelib.ids import new_id
    from chalicelib.models.bookings import Booking, BookingStatus

    actor = Actor(user_id="loader", correlation_id="bulk")
    base = datetime(2027, 3, 1, tzinfo=UTC)
    with BookingItem.batch_write() as batch:
        for n in range(total):
            at = base + timedelta(hours=n % 2000)  # from 1 March on: after the queried week
            booking = Booking(
                id=new_id(),
                tenant_id=tenant_id,
                student_id="student1",
                course_id="course1",
                instructor_id=instructors[n % len(instructors)],
                starts_at=at,
                duration_minutes=60,
                status=BookingStatus.assigned,
                created_at=base,
                updated_at=base,
                version=1,
            )
            batch.save(BookingItem.new(booking, actor, escalate_at=None))


class ItemsRead:
    """DynamoDB requests and the items they answered, per operation."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import botocore.client

        self.calls: list[tuple[str, int]] = []
        original = botocore.client.BaseClient._make_api_call

        def counting(client: Any, operation: str, params: Any) -> Any:
            result = original(client, operation, params)
            if client.meta.service_model.service_name == "dynamodb":
                if operation == "BatchGetItem":
                    items = sum(len(v) for v in result.get("Responses", {}).values())
                else:
                    items = int(result.get("Count", 1 if result.get("Item") else 0))
                self.calls.append((operation, items))
            return result

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)


@pytest.mark.parametrize("instructors", [1, 10])
def test_slot_requests_stay_flat_as_bookings_outside_the_range_grow(
    api, clock, monkeypatch, instructors
):
    from tests.support.accounts import new_user

    clock.now = datetime(2027, 1, 1, tzinfo=UTC)
    world = make_world(api, slug=f"scale{instructors}")
    api.patch("/tenants/me", {"booking_horizon_days": 365}, token=world.token("admin"))
    ids = [world.ids["instructor"], world.ids["other_instructor"]]
    ids += [
        new_user(world.tenant, f"i{n}@scale.example", "instructor")["id"]
        for n in range(instructors - 2)
    ]
    ids = ids[:instructors]
    doc = {
        "time_zone": "UTC",
        "weekly": [{"day": d, "start": "09:00", "end": "17:00"} for d in ("mon", "wed", "fri")],
    }
    for uid in ids:
        r = api.call("PUT", f"/users/{uid}/availability", json_body=doc, token=world.token("admin"))
        assert r.status == 200
    query = (
        f"/slots?course_id={world.course}&from=2027-02-01T00:00:00Z&to=2027-02-08T00:00:00Z"
        f"&duration_minutes=60"
    )
    if instructors == 1:
        query += f"&instructor_id={ids[0]}"
    counter = ItemsRead(monkeypatch)
    measured = {}
    loaded = 0
    for total in (100, 5000):
        _assigned_bookings(world.tenant_id, ids, total - loaded)
        loaded = total
        assert api.get(query, token=world.token("student")).status == 200  # warm caches
        counter.calls.clear()
        r = api.get(query, token=world.token("student"))
        assert r.status == 200 and len(r.json["items"]) == 3 * 29
        measured[total] = list(counter.calls)
    assert measured[100] == measured[5000], measured
    operations = [op for op, _ in measured[5000]]
    assert "Scan" not in operations
    assert operations.count("Query") == instructors + (0 if instructors == 1 else 1)
    print(f"GET /slots, {instructors} instructor(s), a week: {measured[5000]}")
