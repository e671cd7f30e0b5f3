"""Calendar feeds: a secret, rotatable URL per user, served without Authorization."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from tests.integration.test_calendar_view import store_bookings
from tests.support.bookings import World, make_world
from tests.support.http import Api

NOW = datetime(2030, 3, 1, 12, tzinfo=UTC)
FEED_URL = re.compile(r"http://[^/]+/calendar/[A-Za-z0-9_-]{43}\.ics")


@pytest.fixture
def world(api: Api, clock: Any) -> World:
    w = make_world(api)
    clock.now = NOW  # after logging in: tokens are checked against the real time
    return w


def new_feed(world: World, who: str, **kw: Any) -> str:
    r = world.api.post("/users/me/calendar-feed", token=world.token(who), **kw)
    assert r.status == 201, r.body
    url = r.json["url"]
    assert FEED_URL.fullmatch(url), url
    return str(url)


def read(world: World, url: str, **headers: str) -> Any:
    """The feed as a calendar app fetches it: no Authorization header."""
    return world.api.get(urlsplit(url).path, headers=headers)


def events(response: Any) -> dict[str, Any]:
    """The feed's events by UID, parsed back with icalendar."""
    from icalendar import Calendar

    assert response.status == 200, response.body
    assert response.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.body)
    assert "METHOD" not in calendar  # a subscription, not an invitation
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


def uid(booking_id: str) -> str:
    return f"booking-{booking_id}@tutorbook"


@pytest.fixture
def sessions(world: World) -> dict[str, str]:
    d = timedelta(days=1)
    names = [
        ("soon", NOW + 2 * d, "assigned", "student", "instructor"),
        ("last_week", NOW - 7 * d, "assigned", "student", "instructor"),
        ("too_old", NOW - 31 * d, "assigned", "student", "instructor"),
        ("too_far", NOW + 181 * d, "assigned", "student", "instructor"),
        ("requested", NOW + 3 * d, "requested", "student", None),
        ("completed", NOW - 2 * d, "completed", "student", "instructor"),
        ("others", NOW + 4 * d, "assigned", "other_student", "other_instructor"),
        ("other_students_with_mine", NOW + 5 * d, "assigned", "other_student", "instructor"),
    ]
    ids = store_bookings(world, [(at, st, stu, ins) for _, at, st, stu, ins in names])
    return {name: bid for (name, *_), bid in zip(names, ids, strict=True)}


def test_a_students_feed_lists_their_assigned_sessions_in_the_window(world, sessions):
    url = new_feed(world, "student")
    found = events(read(world, url))
    assert set(found) == {uid(sessions["soon"]), uid(sessions["last_week"])}
    soon = found[uid(sessions["soon"])]
    assert soon.decoded("DTSTART") == NOW + timedelta(days=2)
    assert soon.decoded("DTEND") == NOW + timedelta(days=2, hours=1)
    assert soon["DTSTART"].to_ical().decode().endswith("Z")  # UTC inside the file
    version = world.get(sessions["soon"]).json["version"]
    assert int(soon["SEQUENCE"]) == version


def test_an_instructors_feed_lists_the_sessions_assigned_to_them(world, sessions):
    found = events(read(world, new_feed(world, "instructor")))
    assert set(found) == {
        uid(sessions[n]) for n in ("soon", "last_week", "other_students_with_mine")
    }


def test_the_feed_carries_an_etag_and_answers_304_until_it_changes(world, sessions):
    url = new_feed(world, "student")
    first = read(world, url)
    etag = first.headers["etag"]
    again = read(world, url, **{"If-None-Match": etag})
    assert again.status == 304 and again.body == b"" and again.headers["etag"] == etag
    # a cancelled session leaves the feed, and the tag changes
    r = world.act("admin", sessions["soon"], "cancel", {})
    assert r.status == 200, r.body
    changed = read(world, url, **{"If-None-Match": etag})
    assert changed.status == 200 and changed.headers["etag"] != etag
    assert set(events(changed)) == {uid(sessions["last_week"])}


def test_a_new_url_voids_the_old_one_and_delete_voids_it_too(world, sessions):
    old = new_feed(world, "student")
    new = new_feed(world, "student")
    assert old != new
    gone = read(world, old)
    assert gone.status == 404 and gone.error_code == "not_found"
    assert read(world, new).status == 200
    r = world.api.delete("/users/me/calendar-feed", token=world.token("student"))
    assert r.status == 204
    gone = read(world, new)
    assert gone.status == 404 and gone.error_code == "not_found"
    # revoking when there is no feed changes nothing
    again = world.api.delete("/users/me/calendar-feed", token=world.token("student"))
    assert again.status == 204


def test_a_feed_is_one_users_own(api, world, sessions):
    mine = new_feed(world, "student")
    theirs = new_feed(world, "other_student")
    assert uid(sessions["soon"]) in events(read(world, mine))
    assert set(events(read(world, theirs))) == {
        uid(sessions["others"]),
        uid(sessions["other_students_with_mine"]),
    }
    # one user's new URL leaves another's alone
    new_feed(world, "other_student")
    assert read(world, mine).status == 200


@pytest.mark.parametrize(
    "path",
    [
        "/calendar/" + "A" * 43 + ".ics",  # well formed, never issued
        "/calendar/short.ics",
        "/calendar/" + "A" * 43,  # no suffix
        "/calendar/" + "A" * 43 + ".ics.ics",
        "/calendar/%2e%2e.ics",
    ],
)
def test_an_unknown_feed_is_not_found_in_the_envelope(world, path):
    r = world.api.get(path)
    assert r.status == 404, (path, r.body)
    assert r.error_code == "not_found"
    assert "x-correlation-id" in r.headers


def test_admins_have_no_sessions_and_no_feed(world):
    r = world.api.post("/users/me/calendar-feed", token=world.token("admin"))
    assert r.status == 403 and r.error_code == "forbidden"


def test_only_the_tokens_hash_is_stored(world, aws):
    url = new_feed(world, "student")
    token = urlsplit(url).path.rsplit("/", 1)[1].removesuffix(".ics")
    # Test-only inspection of the emulator (never on a request path).
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(aws["MAIN_TABLE"])
    dump = repr(table.scan()["Items"])
    assert token not in dump
    assert "CALFEED#" in dump


def test_the_url_uses_the_host_the_caller_reached(world):
    url = new_feed(world, "student", headers={"Host": "calendar.test:8123"})
    assert url.startswith("http://calendar.test:8123/calendar/")
    # a Host header that is not a host name is not echoed back
    url = new_feed(world, "student", headers={"Host": "evil.test/x?"})
    assert urlsplit(url).netloc.startswith("127.0.0.1:")


def test_a_feed_request_is_one_getitem_and_one_query_whatever_else_is_booked(
    world, sessions, monkeypatch
):
    from tests.support.counting import count_requests

    url = new_feed(world, "instructor")
    measured = {}
    loaded = 0
    for total in (100, 5000):
        outside = [
            (NOW + timedelta(days=200, hours=n % 2000), "assigned", "student", "instructor")
            for n in range(total - loaded)
        ]
        store_bookings(world, outside)
        loaded = total
        counter = count_requests(monkeypatch.setattr)
        r = read(world, url)
        assert r.status == 200
        measured[total] = (counter.operations(), counter.items_read())
    assert measured[100] == measured[5000], measured
    assert measured[5000][0] == ["GetItem", "Query"]
    print(f"GET /calendar/<token>.ics: {measured}")


def test_a_feed_follows_its_users_current_role_and_status(world, sessions, clock):
    """Like a token, a feed URL acts with its user's current role and status (the contract's
    60 seconds for reads): a deactivated user's feed is gone, and one made while an instructor
    lists what the user may see now."""
    admin = world.token("admin")
    instructor_feed = new_feed(world, "instructor")
    student_feed = new_feed(world, "student")
    r = world.api.patch(f"/users/{world.ids['instructor']}", {"role": "student"}, token=admin)
    assert r.status == 200, r.body
    r = world.api.patch(f"/users/{world.ids['student']}", {"active": False}, token=admin)
    assert r.status == 200, r.body
    clock.advance(seconds=61)
    gone = read(world, student_feed)
    assert gone.status == 404 and gone.error_code == "not_found"
    # no longer an instructor: the sessions assigned to them are not listed as theirs
    assert events(read(world, instructor_feed)) == {}
    r = world.api.patch(f"/users/{world.ids['instructor']}", {"role": "admin"}, token=admin)
    assert r.status == 200, r.body
    clock.advance(seconds=61)
    assert read(world, instructor_feed).status == 404  # admins have no feed
