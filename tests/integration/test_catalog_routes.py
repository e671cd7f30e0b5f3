"""Catalog routes over HTTP: tree shape, role x route permissions, tenants, schemas (1, 7, 8)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.accounts import TenantLogin
from tests.support.catalog import (
    ROLES,
    People,
    make_course,
    make_lesson,
    make_module,
    make_people,
    titles,
)
from tests.support.http import Api, Response


@pytest.fixture
def people(api: Api, acme: TenantLogin, globex: TenantLogin) -> People:
    return make_people(api, acme, globex)


def test_build_and_read_a_whole_course(api: Api, people: People) -> None:
    course = make_course(api, people.owner, "Algebra", description="Intro", published=True)
    assert course["owner_id"] == people.owner_id
    assert course["published"] is True and course["modules"] == []
    m1 = make_module(api, people.owner, course["id"], "Basics")
    m2 = make_module(api, people.owner, course["id"], "Equations")
    lesson = make_lesson(
        api, people.owner, course["id"], m1["id"], "Numbers", content="# hi", duration_minutes=30
    )
    assert lesson == {
        "id": lesson["id"],
        "title": "Numbers",
        "content": "# hi",
        "duration_minutes": 30,
        "position": 0,
    }
    r = api.get(f"/courses/{course['id']}", token=people.student)
    assert r.status == 200
    body = r.json
    assert set(body) == {
        "id",
        "title",
        "description",
        "published",
        "owner_id",
        "created_at",
        "updated_at",
        "instructor_ids",
        "modules",
    }
    assert body["created_at"].endswith("Z") and body["updated_at"] >= body["created_at"]
    assert [(m["id"], m["position"]) for m in body["modules"]] == [(m1["id"], 0), (m2["id"], 1)]
    assert body["modules"][0]["lessons"] == [lesson]
    assert body["modules"][1]["lessons"] == []


def test_patch_course_publishes_and_renames(api: Api, people: People) -> None:
    course = make_course(api, people.owner, "Draft")
    assert api.get(f"/courses/{course['id']}", token=people.student).status == 404
    r = api.patch(
        f"/courses/{course['id']}", {"published": True, "title": "Live"}, token=people.owner
    )
    assert r.status == 200 and r.json["published"] is True and r.json["title"] == "Live"
    r = api.get(f"/courses/{course['id']}", token=people.student)
    assert r.status == 200 and r.json["title"] == "Live"
    assert [c["id"] for c in api.get("/courses", token=people.student).json["items"]] == [
        course["id"]
    ]
    r = api.patch(f"/courses/{course['id']}", {"published": False}, token=people.admin)
    assert r.status == 200 and r.json["published"] is False
    assert api.get(f"/courses/{course['id']}", token=people.student).status == 404
    assert api.get("/courses", token=people.student).json["items"] == []
    # An empty patch changes nothing and answers the course.
    r = api.patch(f"/courses/{course['id']}", {}, token=people.owner)
    assert r.status == 200 and r.json["title"] == "Live"


def test_lesson_patch_and_clearing_duration(api: Api, people: People) -> None:
    c = make_course(api, people.owner)
    m = make_module(api, people.owner, c["id"])
    lesson = make_lesson(api, people.owner, c["id"], m["id"], "A", duration_minutes=15)
    path = f"/courses/{c['id']}/modules/{m['id']}/lessons/{lesson['id']}"
    r = api.patch(path, {"content": "new text"}, token=people.owner)
    assert r.status == 200 and r.json["content"] == "new text" and r.json["duration_minutes"] == 15
    r = api.patch(path, {"duration_minutes": None}, token=people.owner)
    assert r.status == 200 and r.json["duration_minutes"] is None
    tree = api.get(f"/courses/{c['id']}", token=people.owner).json
    assert tree["modules"][0]["lessons"][0]["duration_minutes"] is None
    assert tree["modules"][0]["lessons"][0]["content"] == "new text"
    r = api.patch(f"/courses/{c['id']}/modules/{m['id']}", {"title": "Renamed"}, token=people.admin)
    assert r.status == 200 and r.json["title"] == "Renamed" and len(r.json["lessons"]) == 1


# --- role x route ---------------------------------------------------------------------------
# Expected status per caller, on a course owned by "owner". Students are turned away by role
# (403) from every write, before the course is even looked up; another tenant's ids are 404.
WRITE = {
    "admin": None,
    "owner": None,
    "other_instructor": 403,
    "student": 403,
    "other_tenant_admin": 404,
}


Fixture = dict[str, Any]


def _world(api: Api, people: People, published: bool = False) -> Fixture:
    c = make_course(api, people.owner, "Owned", published=published)
    m = make_module(api, people.owner, c["id"], "M")
    lesson = make_lesson(api, people.owner, c["id"], m["id"], "L")
    return {"c": c["id"], "m": m["id"], "l": lesson["id"]}


ROUTES: dict[str, tuple[int, Callable[[Api, Fixture, str], Response]]] = {
    "PATCH /courses/{id}": (
        200,
        lambda api, w, t: api.patch(f"/courses/{w['c']}", {"title": "X"}, token=t),
    ),
    "DELETE /courses/{id}": (204, lambda api, w, t: api.delete(f"/courses/{w['c']}", token=t)),
    "POST /courses/{id}/modules": (
        201,
        lambda api, w, t: api.post(f"/courses/{w['c']}/modules", {"title": "N"}, token=t),
    ),
    "PATCH /courses/{id}/modules/{id}": (
        200,
        lambda api, w, t: api.patch(
            f"/courses/{w['c']}/modules/{w['m']}", {"title": "N", "position": 0}, token=t
        ),
    ),
    "DELETE /courses/{id}/modules/{id}": (
        204,
        lambda api, w, t: api.delete(f"/courses/{w['c']}/modules/{w['m']}", token=t),
    ),
    "POST /courses/{id}/modules/{id}/lessons": (
        201,
        lambda api, w, t: api.post(
            f"/courses/{w['c']}/modules/{w['m']}/lessons", {"title": "N"}, token=t
        ),
    ),
    "PATCH /courses/{id}/modules/{id}/lessons/{id}": (
        200,
        lambda api, w, t: api.patch(
            f"/courses/{w['c']}/modules/{w['m']}/lessons/{w['l']}", {"title": "N"}, token=t
        ),
    ),
    "DELETE /courses/{id}/modules/{id}/lessons/{id}": (
        204,
        lambda api, w, t: api.delete(
            f"/courses/{w['c']}/modules/{w['m']}/lessons/{w['l']}", token=t
        ),
    ),
}


@pytest.mark.parametrize("route", list(ROUTES))
def test_write_permissions_by_role(api: Api, people: People, route: str) -> None:
    """Every caller's answer on one route (each write × caller × draft/published is checked on
    the rules in tests/unit/test_catalog_permissions.py): refusals change nothing."""
    ok, call = ROUTES[route]
    world = _world(api, people, published=True)
    before = api.get(f"/courses/{world['c']}", token=people.admin).json
    for who in ("other_instructor", "student", "other_tenant_admin"):
        r = call(api, world, people.token(who))
        assert r.status == WRITE[who], (route, who, r.body)
        assert r.error_code in {"forbidden", "not_found"}
        assert api.get(f"/courses/{world['c']}", token=people.admin).json == before
    for who in ("owner", "admin"):
        world = _world(api, people)
        before = api.get(f"/courses/{world['c']}", token=people.admin).json
        r = call(api, world, people.token(who))
        assert r.status == ok, (route, who, r.body)
        after = api.get(f"/courses/{world['c']}", token=people.admin)
        assert after.status == 404 or after.json != before


def test_create_course_by_role(api: Api, people: People) -> None:
    for who, status in [
        ("admin", 201),
        ("owner", 201),
        ("other_instructor", 201),
        ("student", 403),
    ]:
        r = api.post("/courses", {"title": f"by {who}"}, token=people.token(who))
        assert r.status == status, (who, r.body)
    # The globex admin's course lives in globex only.
    make_course(api, people.globex.token, "Globex only", published=True)
    acme_titles = titles(api.get("/courses", token=people.admin).json["items"])
    assert "Globex only" not in acme_titles and len(acme_titles) == 3
    assert titles(api.get("/courses", token=people.globex.token).json["items"]) == ["Globex only"]


def test_read_permissions_by_role(api: Api, people: People) -> None:
    draft = _world(api, people, published=False)
    live = _world(api, people, published=True)
    for who in ROLES:
        token = people.token(who)
        draft_status = {"student": 404, "other_tenant_admin": 404}.get(who, 200)
        live_status = {"other_tenant_admin": 404}.get(who, 200)
        assert api.get(f"/courses/{draft['c']}", token=token).status == draft_status, who
        assert api.get(f"/courses/{live['c']}", token=token).status == live_status, who
        listed = {c["id"] for c in api.get("/courses", token=token).json["items"]}
        expected = {
            "student": {live["c"]},
            "other_tenant_admin": set(),
        }.get(who, {draft["c"], live["c"]})
        assert listed == expected, who


def test_unauthenticated_and_unknown_ids(api: Api, people: People) -> None:
    w = _world(api, people, published=True)
    assert api.get("/courses").status == 401
    assert api.get(f"/courses/{w['c']}").status == 401
    assert api.post("/courses", {"title": "x"}).status == 401
    for path in (
        "/courses/NOPE",
        f"/courses/{w['c']}/modules/NOPE",
        f"/courses/{w['c']}/modules/{w['m']}/lessons/NOPE",
    ):
        r = api.patch(path, {"title": "x"}, token=people.admin)
        assert r.status == 404 and r.error_code == "not_found", path
        assert api.delete(path, token=people.admin).status == 404, path
    r = api.post(f"/courses/{w['c']}/modules/NOPE/lessons", {"title": "x"}, token=people.admin)
    assert r.status == 404
    assert api.get("/courses/has%23hash", token=people.admin).status == 404


def test_other_tenant_cannot_touch_lessons_through_its_own_course(api: Api, people: People) -> None:
    """Ids from acme used under a globex course path are simply unknown there."""
    w = _world(api, people, published=True)
    theirs = make_course(api, people.globex.token, "Globex")
    path = f"/courses/{theirs['id']}/modules/{w['m']}/lessons/{w['l']}"
    assert api.patch(path, {"title": "x"}, token=people.globex.token).status == 404
    r = api.post(
        f"/courses/{theirs['id']}/modules/{w['m']}/lessons",
        {"title": "x"},
        token=people.globex.token,
    )
    assert r.status == 404
    tree = api.get(f"/courses/{w['c']}", token=people.admin).json
    assert tree["modules"][0]["lessons"][0]["title"] == "L"


# --- schemas ------------------------------------------------------------------------------
BAD_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("course", {"title": "ok", "colour": "red"}, "colour"),
    ("course", {"title": "x" * 201}, "title"),
    ("course", {"title": ""}, "title"),
    ("course", {"title": "ok", "description": "d" * 5001}, "description"),
    ("course", {"title": "ok", "published": "maybe"}, "published"),
    ("module", {"title": "ok", "position": -1}, "position"),
    ("module", {"title": "ok", "extra": 1}, "extra"),
    ("lesson", {"title": "ok", "content": "c" * 20001}, "content"),
    ("lesson", {"title": "ok", "duration_minutes": 0}, "duration_minutes"),
    ("lesson", {"title": "ok", "owner_id": "me"}, "owner_id"),
]


def test_bad_bodies_are_422_and_change_nothing(api: Api, people: People) -> None:
    w = _world(api, people)
    before = api.get(f"/courses/{w['c']}", token=people.admin).json
    paths = {
        "course": "/courses",
        "module": f"/courses/{w['c']}/modules",
        "lesson": f"/courses/{w['c']}/modules/{w['m']}/lessons",
    }
    for kind, body, field in BAD_BODIES:
        r = api.post(paths[kind], body, token=people.owner)
        assert r.status == 422 and r.error_code == "validation_error", (kind, body, r.body)
        assert field in {d["field"] for d in r.json["error"]["details"]}, (kind, field)
    assert api.get(f"/courses/{w['c']}", token=people.admin).json == before
    assert len(api.get("/courses", token=people.admin).json["items"]) == 1


def test_patch_bodies_are_validated(api: Api, people: People) -> None:
    w = _world(api, people)
    for path in (
        f"/courses/{w['c']}",
        f"/courses/{w['c']}/modules/{w['m']}",
        f"/courses/{w['c']}/modules/{w['m']}/lessons/{w['l']}",
    ):
        r = api.patch(path, {"title": "t" * 201}, token=people.owner)
        assert r.status == 422, path
        r = api.patch(path, {"owner_id": "someone"}, token=people.owner)
        assert r.status == 422, path
        assert api.patch(path, raw="{not json", token=people.owner).status == 400


def test_catalog_in_openapi(api: Api) -> None:
    doc = api.get("/openapi.json").json
    paths = doc["paths"]
    assert set(paths["/courses"]) == {"get", "post"}
    assert set(paths["/courses/{course_id}"]) == {"get", "patch", "delete"}
    assert set(paths["/courses/{course_id}/modules"]) == {"post"}
    assert set(paths["/courses/{course_id}/modules/{module_id}"]) == {"patch", "delete"}
    assert set(paths["/courses/{course_id}/modules/{module_id}/lessons"]) == {"post"}
    assert set(paths["/courses/{course_id}/modules/{module_id}/lessons/{lesson_id}"]) == {
        "patch",
        "delete",
    }
    get = paths["/courses/{course_id}"]["get"]
    assert "304" in get["responses"] and "ETag" in get["responses"]["200"]["headers"]
    names = {p.get("name") or p["$ref"].rsplit("/", 1)[1] for p in get["parameters"]}
    assert "If-None-Match" in names
    schemas = doc["components"]["schemas"]
    for name in ("CourseIn", "CoursePatchIn", "ModuleIn", "LessonIn", "LessonPatchIn", "Course"):
        assert name in schemas, name
    assert schemas["CourseIn"]["additionalProperties"] is False
    assert schemas["LessonIn"]["properties"]["content"]["maxLength"] == 20000
    params = {p["name"]: p for p in paths["/courses"]["get"]["parameters"] if "name" in p}
    assert params["limit"]["schema"]["maximum"] == 100
