"""Shared helpers for the catalog tests (no tests here): a tenant with every role, and builders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.conftest import Api, TenantLogin, add_user, login


@dataclass
class People:
    """acme's admin, two instructors (``owner`` builds the courses) and a student, plus globex."""

    acme: TenantLogin
    globex: TenantLogin
    admin: str
    owner: str
    owner_id: str
    other: str
    student: str

    def token(self, who: str) -> str:
        return {
            "admin": self.admin,
            "owner": self.owner,
            "other_instructor": self.other,
            "student": self.student,
            "other_tenant_admin": self.globex.token,
        }[who]


ROLES = ("admin", "owner", "other_instructor", "student", "other_tenant_admin")


def make_people(api: Api, acme: TenantLogin, globex: TenantLogin) -> People:
    """Use in a test module as ``people = pytest.fixture(...)`` wrapper (see the tests)."""
    owner = add_user(api, acme.token, "owner@acme.test", "instructor", "Olga Owner")
    add_user(api, acme.token, "other@acme.test", "instructor", "Otto Other")
    add_user(api, acme.token, "student@acme.test", "student", "Sam Student")
    return People(
        acme=acme,
        globex=globex,
        admin=acme.token,
        owner=login(api, "acme", "owner@acme.test")["access_token"],
        owner_id=owner["id"],
        other=login(api, "acme", "other@acme.test")["access_token"],
        student=login(api, "acme", "student@acme.test")["access_token"],
    )


def make_course(api: Api, token: str, title: str = "Course", **extra: Any) -> dict[str, Any]:
    r = api.post("/courses", {"title": title, **extra}, token=token)
    assert r.status == 201, r.body
    return dict(r.json)


def make_module(
    api: Api, token: str, course_id: str, title: str = "Module", **extra: Any
) -> dict[str, Any]:
    r = api.post(f"/courses/{course_id}/modules", {"title": title, **extra}, token=token)
    assert r.status == 201, r.body
    return dict(r.json)


def make_lesson(
    api: Api, token: str, course_id: str, module_id: str, title: str = "Lesson", **extra: Any
) -> dict[str, Any]:
    r = api.post(
        f"/courses/{course_id}/modules/{module_id}/lessons",
        {"title": title, **extra},
        token=token,
    )
    assert r.status == 201, r.body
    return dict(r.json)


def build_tree(
    api: Api, token: str, modules: int, lessons: int, published: bool = True
) -> dict[str, Any]:
    """A course with ``modules`` modules of ``lessons`` lessons each; returns its GET body."""
    course = make_course(api, token, "Tree", published=published)
    for m in range(modules):
        module = make_module(api, token, course["id"], f"M{m}")
        for n in range(lessons):
            make_lesson(api, token, course["id"], module["id"], f"M{m}L{n}", duration_minutes=10)
    r = api.get(f"/courses/{course['id']}", token=token)
    assert r.status == 200, r.body
    return dict(r.json)


def titles(items: list[dict[str, Any]]) -> list[str]:
    return [i["title"] for i in items]


def partition(aws: dict[str, str], course_id: str, tenant_id: str) -> list[dict[str, Any]]:
    """Every raw item stored under the course (the test reads the table to prove no orphans)."""
    import boto3

    table = boto3.resource("dynamodb").Table(aws["MAIN_TABLE"])
    pk = f"T#{tenant_id}#COURSE#{course_id}"
    out = table.query(
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": pk},
        ConsistentRead=True,
    )
    return list(out["Items"])
