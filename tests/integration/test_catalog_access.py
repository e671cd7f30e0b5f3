"""Catalog access patterns priced in DynamoDB requests, pagination and cursors (points 2, 6, 8).

Request counts come from the ``aws_requests`` fixture: it wraps botocore's ``_make_api_call``,
so every real request any client sends is counted, whatever the code looks like.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.accounts import TenantLogin
from tests.support.catalog import (
    People,
    make_course,
    make_lesson,
    make_module,
    make_people,
    seed_tree,
)
from tests.support.http import Api


@pytest.fixture
def people(api: Api, acme: TenantLogin, globex: TenantLogin) -> People:
    return make_people(api, acme, globex)


def test_get_course_tree_is_one_query(api: Api, people: People, aws_requests) -> None:
    tree = seed_tree(people.acme, people.owner_id, modules=4, lessons=5)
    for token in (people.admin, people.owner, people.student):
        api.get("/users/me", token=token)  # the caller's access, kept by this container
        aws_requests.reset()
        r = api.get(f"/courses/{tree['id']}", token=token)
        assert r.status == 200
        assert aws_requests.operations() == ["Query"]
        assert sum(len(m["lessons"]) for m in r.json["modules"]) == 20
    aws_requests.reset()
    r = api.get(f"/courses/{tree['id']}", token=people.admin, headers={"If-None-Match": "x"})
    etag = r.headers["etag"]
    r = api.get(f"/courses/{tree['id']}", token=people.admin, headers={"If-None-Match": etag})
    assert r.status == 304
    assert aws_requests.operations() == ["Query", "Query"]


def _page_through(api: Api, token: str, limit: int, counter) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    api.get("/users/me", token=token)  # the caller's access, kept by this container
    while True:
        counter.reset()
        path = f"/courses?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        r = api.get(path, token=token)
        assert r.status == 200, r.body
        assert counter.operations() == ["Query"], "one Query per page"
        pages.append([c["id"] for c in r.json["items"]])
        cursor = r.json["next_cursor"]
        if cursor is None:
            return pages


def test_list_pages_one_query_each_and_students_get_full_published_pages(
    api: Api, people: People, aws_requests
) -> None:
    created = []
    for i in range(50):
        # Drafts and published interleaved: 2 of every 5 courses are published.
        created.append(make_course(api, people.owner, f"C{i:02d}", published=i % 5 in (1, 3)))
    newest_first = [c["id"] for c in reversed(created)]
    published = [c["id"] for c in reversed(created) if c["published"]]
    assert len(published) == 20

    staff_pages = _page_through(api, people.admin, 20, aws_requests)
    assert [len(p) for p in staff_pages] == [20, 20, 10]
    assert [i for p in staff_pages for i in p] == newest_first

    # A student's page of 20 holds 20 published courses, read by one Query, no post-filter.
    student_pages = _page_through(api, people.student, 20, aws_requests)
    assert student_pages == [published]
    student_small = _page_through(api, people.student, 7, aws_requests)
    assert [len(p) for p in student_small] == [7, 7, 6]
    assert [i for p in student_small for i in p] == published

    # Default limit is 20; the instructor sees drafts too.
    api.get("/users/me", token=people.other)
    aws_requests.reset()
    r = api.get("/courses", token=people.other)
    assert len(r.json["items"]) == 20 and r.json["next_cursor"]
    assert aws_requests.operations() == ["Query"]
    assert "Scan" not in aws_requests.operations()


def test_limits(api: Api, people: People) -> None:
    make_course(api, people.owner, "One")
    for bad in ("101", "0", "-1", "lots"):
        r = api.get(f"/courses?limit={bad}", token=people.admin)
        assert r.status == 422 and r.error_code == "validation_error", bad
    assert api.get("/courses?limit=100", token=people.admin).status == 200
    r = api.get("/courses?limit=1", token=people.admin)
    assert r.status == 200 and len(r.json["items"]) == 1 and r.json["next_cursor"] is None


def test_cursors_are_bound_to_tenant_and_query(api: Api, people: People) -> None:
    for i in range(3):
        make_course(api, people.owner, f"A{i}", published=True)
        make_course(api, people.globex.token, f"G{i}", published=True)
    admin_cursor = api.get("/courses?limit=1", token=people.admin).json["next_cursor"]
    student_cursor = api.get("/courses?limit=1", token=people.student).json["next_cursor"]
    globex_cursor = api.get("/courses?limit=1", token=people.globex.token).json["next_cursor"]
    users_cursor = api.get("/users?limit=1", token=people.admin).json["next_cursor"]
    assert admin_cursor and student_cursor and globex_cursor and users_cursor

    assert api.get(f"/courses?cursor={admin_cursor}", token=people.admin).status == 200
    tampered = admin_cursor[:-2] + ("AA" if not admin_cursor.endswith("AA") else "BB")
    cases = [
        (people.admin, tampered),  # signature no longer matches
        (people.admin, "garbage"),
        (people.admin, globex_cursor),  # another tenant's
        (people.globex.token, admin_cursor),
        (people.admin, users_cursor),  # another route's
        (people.admin, student_cursor),  # the published query, not the full one
        (people.student, admin_cursor),
    ]
    for token, cursor in cases:
        r = api.get(f"/courses?cursor={cursor}", token=token)
        assert r.status == 400 and r.error_code == "bad_request", cursor
    # And a course cursor is no good on the users route either.
    assert api.get(f"/users?cursor={admin_cursor}", token=people.admin).status == 400


def test_write_routes_request_counts(api: Api, people: People, aws_requests) -> None:
    """What each write costs (the numbers the closing note reports)."""
    measured: dict[str, list[str]] = {}

    def measure(name: str, call: Any, status: int) -> Any:
        aws_requests.reset()
        r = call()
        assert r.status == status, (name, r.body)
        measured[name] = aws_requests.operations()
        return r.json

    c = measure(
        "POST /courses", lambda: api.post("/courses", {"title": "T"}, token=people.owner), 201
    )
    cid = c["id"]
    measure(
        "PATCH /courses/{id}",
        lambda: api.patch(f"/courses/{cid}", {"published": True}, token=people.owner),
        200,
    )
    m = measure(
        "POST modules",
        lambda: api.post(f"/courses/{cid}/modules", {"title": "M"}, token=people.owner),
        201,
    )
    mid = m["id"]
    measure(
        "PATCH module",
        lambda: api.patch(f"/courses/{cid}/modules/{mid}", {"position": 3}, token=people.owner),
        200,
    )
    lesson = measure(
        "POST lessons",
        lambda: api.post(
            f"/courses/{cid}/modules/{mid}/lessons", {"title": "L"}, token=people.owner
        ),
        201,
    )
    lpath = f"/courses/{cid}/modules/{mid}/lessons/{lesson['id']}"
    measure("PATCH lesson", lambda: api.patch(lpath, {"title": "L2"}, token=people.owner), 200)
    measure("DELETE lesson", lambda: api.delete(lpath, token=people.owner), 204)
    for n in range(3):
        make_lesson(api, people.owner, cid, mid, f"x{n}")
    measure(
        "DELETE module",
        lambda: api.delete(f"/courses/{cid}/modules/{mid}", token=people.owner),
        204,
    )
    make_module(api, people.owner, cid)
    measure("DELETE /courses/{id}", lambda: api.delete(f"/courses/{cid}", token=people.owner), 204)
    # Every write first reads the caller's current access (one GetItem, strongly consistent).
    assert {route: ops[1:] for route, ops in measured.items()} == {
        "POST /courses": ["PutItem"],
        "PATCH /courses/{id}": ["Query", "UpdateItem"],
        "POST modules": ["Query", "TransactWriteItems"],
        "PATCH module": ["Query", "TransactWriteItems"],
        "POST lessons": ["Query", "TransactWriteItems"],
        "PATCH lesson": ["Query", "TransactWriteItems"],
        # Stamp the lesson with the deleter (its REMOVE record names them), then delete it.
        "DELETE lesson": ["Query", "UpdateItem", "TransactWriteItems"],
        # Deletes: read + mark the parent, read its children and mark them with the deleter
        # (BatchWriteItem puts), then remove everything (BatchWriteItem deletes).
        "DELETE module": [
            "Query",
            "TransactWriteItems",
            "Query",
            "BatchWriteItem",
            "BatchWriteItem",
        ],
        "DELETE /courses/{id}": [
            "Query",
            "UpdateItem",
            "Query",
            "BatchWriteItem",
            "BatchWriteItem",
        ],
    }
    assert {ops[0] for ops in measured.values()} == {"GetItem"}
    assert not any("Scan" in ops for ops in measured.values())
