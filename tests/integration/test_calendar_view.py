"""The calendar view ``GET /bookings?from=&to=``: bookings by start time, through HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.services.access import ACCESS_CACHE
from tests.support.bookings import World, make_world
from tests.support.http import Api

BASE = datetime(2030, 3, 4, 9, tzinfo=UTC)


def _z(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def store_bookings(
    world: World, specs: Sequence[tuple[datetime, str, str, str | None]]
) -> list[str]:
    """Bookings ``(starts_at, status, student, instructor)`` written straight to the table (the
    booking rules are not under test here); their ids, in the order given."""
    from chalicelib.context import Actor
    from chalicelib.db.booking_items import BookingItem
    from chalicelib.ids import new_id
    from chalicelib.models.bookings import Booking, BookingStatus

    actor = Actor(user_id="loader", correlation_id="bulk")
    ids = []
    with BookingItem.batch_write() as batch:
        for at, status, student, instructor in specs:
            booking = Booking(
                id=new_id(),
                tenant_id=world.tenant_id,
                student_id=world.ids[student],
                course_id=world.course,
                instructor_id=world.ids[instructor] if instructor else None,
                starts_at=at,
                duration_minutes=60,
                status=BookingStatus(status),
                created_at=BASE - timedelta(days=30),
                updated_at=BASE - timedelta(days=30),
                version=1,
            )
            item = BookingItem.new(booking, actor, escalate_at=None)
            item.version = booking.version  # a batch write does not set it as save() does
            batch.save(item)
            ids.append(booking.id)
    return ids


def calendar(world: World, who: str, start: datetime, end: datetime, **extra: Any) -> Any:
    query = f"/bookings?from={_z(start)}&to={_z(end)}"
    for name, value in extra.items():
        query += f"&{name}={value}"
    return world.api.get(query, token=world.token(who))


def every_page(world: World, who: str, start: datetime, end: datetime, **extra: Any) -> list[str]:
    """The ids of every page, following the cursors."""
    seen: list[str] = []
    cursor = None
    for _ in range(50):
        more = {**extra, **({"cursor": cursor} if cursor else {})}
        r = calendar(world, who, start, end, **more)
        assert r.status == 200, r.body
        seen += [b["id"] for b in r.json["items"]]
        cursor = r.json["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("the pages never ended")


@pytest.fixture
def world(api: Api) -> World:
    return make_world(api)


@pytest.fixture
def booked(world: World) -> dict[str, str]:
    """A week of bookings in several states, for two students and two instructors, plus some
    just outside the week; stored in an order unrelated to their start times."""
    h = timedelta(hours=1)
    d = timedelta(days=1)
    names = [
        ("stu_assigned_ins", BASE + 2 * d, "assigned", "student", "instructor"),
        ("stu_requested", BASE, "requested", "student", None),  # exactly at `from`
        ("other_assigned_ins2", BASE + d, "assigned", "other_student", "other_instructor"),
        ("stu_completed_ins", BASE + 3 * h, "completed", "student", "instructor"),
        ("other_cancelled_ins", BASE + 4 * d, "cancelled", "other_student", "instructor"),
        ("stu_approved", BASE + 5 * d, "approved", "student", None),
        ("before", BASE - h, "assigned", "student", "instructor"),
        ("at_to", BASE + 7 * d, "assigned", "student", "instructor"),  # `to` is exclusive
        ("after", BASE + 9 * d, "assigned", "student", "instructor"),
    ]
    ids = store_bookings(world, [(at, st, stu, ins) for _, at, st, stu, ins in names])
    return {name: bid for (name, *_), bid in zip(names, ids, strict=True)}


WEEK = (BASE, BASE + timedelta(days=7))


def test_the_calendar_lists_bookings_starting_in_the_range_by_start(world, booked):
    r = calendar(world, "admin", *WEEK)
    assert r.status == 200, r.body
    got = [b["id"] for b in r.json["items"]]
    assert got == [
        booked[n]
        for n in (
            "stu_requested",
            "stu_completed_ins",
            "other_assigned_ins2",
            "stu_assigned_ins",
            "other_cancelled_ins",
            "stu_approved",
        )
    ]
    starts = [b["starts_at"] for b in r.json["items"]]
    assert starts == sorted(starts) and starts[0] == _z(BASE)
    assert r.json["next_cursor"] is None


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("student", ["stu_requested", "stu_completed_ins", "stu_assigned_ins", "stu_approved"]),
        ("other_student", ["other_assigned_ins2", "other_cancelled_ins"]),
        ("instructor", ["stu_completed_ins", "stu_assigned_ins", "other_cancelled_ins"]),
        ("other_instructor", ["other_assigned_ins2"]),
    ],
)
def test_each_caller_sees_what_the_list_shows_them(world, booked, who, expected):
    assert every_page(world, who, *WEEK) == [booked[n] for n in expected]
    listed = world.api.get("/bookings?limit=100", token=world.token(who))
    assert {booked[n] for n in expected} <= {b["id"] for b in listed.json["items"]}


@pytest.mark.parametrize(
    ("who", "status", "expected"),
    [
        ("admin", "assigned", ["other_assigned_ins2", "stu_assigned_ins"]),
        ("student", "requested", ["stu_requested"]),
        ("student", "assigned", ["stu_assigned_ins"]),
        ("instructor", "completed", ["stu_completed_ins"]),
        ("instructor", "requested", []),
    ],
)
def test_a_status_narrows_the_calendar(world, booked, who, status, expected):
    assert every_page(world, who, *WEEK, status=status) == [booked[n] for n in expected]


def test_another_tenant_sees_none_of_it(api, world, booked):
    other = make_world(api, "globex")
    r = calendar(other, "admin", *WEEK)
    assert r.status == 200 and r.json["items"] == []
    # nor with a cursor of this tenant
    page = calendar(world, "admin", *WEEK, limit=1)
    r = calendar(other, "admin", *WEEK, limit=1, cursor=page.json["next_cursor"])
    assert r.status == 400 and r.error_code == "bad_request"


def test_pages_follow_each_other_in_start_order(world, booked):
    everything = [b["id"] for b in calendar(world, "admin", *WEEK, limit=100).json["items"]]
    first = calendar(world, "admin", *WEEK, limit=2)
    assert len(first.json["items"]) == 2 and first.json["next_cursor"]
    assert every_page(world, "admin", *WEEK, limit=2) == everything
    # a cursor belongs to its range: another range refuses it
    later = (BASE + timedelta(days=1), BASE + timedelta(days=8))
    r = calendar(world, "admin", *later, limit=2, cursor=first.json["next_cursor"])
    assert r.status == 400 and r.error_code == "bad_request"


@pytest.mark.parametrize(
    "query",
    [
        f"from={_z(BASE)}&to={_z(BASE)}",  # empty range
        f"from={_z(BASE)}&to={_z(BASE - timedelta(hours=1))}",  # backwards
        f"from={_z(BASE)}&to={_z(BASE + timedelta(days=92, seconds=1))}",  # too long
        f"from={_z(BASE)}",  # half a range
        f"to={_z(BASE)}",
        "from=yesterday&to=tomorrow",
        "from=2030-03-04T09:00:00&to=2030-03-05T09:00:00",  # no time zone
    ],
)
def test_a_bad_range_is_a_validation_error(world, query):
    r = world.api.get(f"/bookings?{query}", token=world.token("admin"))
    assert r.status == 422, r.body
    assert r.error_code == "validation_error"


def test_a_whole_quarter_is_allowed(world, booked):
    r = calendar(world, "admin", BASE, BASE + timedelta(days=92))
    assert r.status == 200 and len(r.json["items"]) == 8


def test_without_a_range_the_list_stays_newest_first(world, booked):
    r = world.api.get("/bookings?limit=100", token=world.token("admin"))
    ids = [b["id"] for b in r.json["items"]]
    assert ids == sorted(booked.values(), reverse=True)  # ULIDs: creation order


# --- cost: one Query per page, flat in the bookings outside the range --------------------------
@pytest.mark.parametrize(
    ("who", "status"),
    [("admin", None), ("admin", "assigned"), ("student", None), ("instructor", None)],
)
def test_a_page_costs_one_query_whatever_lies_outside_the_range(
    world, booked, monkeypatch, who, status
):
    from tests.support.counting import count_requests

    extra = {"status": status} if status else {}
    measured = {}
    loaded = 0
    for total in (100, 5000):
        outside = [
            (BASE + timedelta(days=10, hours=n % 2000), "assigned", "student", "instructor")
            for n in range(total - loaded)
        ]
        store_bookings(world, outside)
        loaded = total
        # Warm the caches afresh: loading the bookings may outlast a copy read before it.
        ACCESS_CACHE.clear()
        assert calendar(world, who, *WEEK, limit=2, **extra).status == 200  # warm caches
        counter = count_requests(monkeypatch.setattr)
        first = calendar(world, who, *WEEK, limit=2, **extra)
        assert first.status == 200 and first.json["items"]
        second = calendar(world, who, *WEEK, limit=2, cursor=first.json["next_cursor"], **extra)
        assert second.status == 200
        measured[total] = (counter.operations(), counter.items_read())
    assert measured[100] == measured[5000], measured
    operations, _ = measured[5000]
    assert operations == ["Query", "Query"], operations
    print(f"GET /bookings?from=&to= ({who}, {status}), two pages: {measured}")
