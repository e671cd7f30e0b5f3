"""Shared helpers for the catalog tests (no tests here): a tenant with every role, and builders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.support.accounts import TenantLogin, new_user, token_for
from tests.support.http import Api


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
    owner = new_user(acme, "owner@acme.test", "instructor", "Olga Owner")
    other = new_user(acme, "other@acme.test", "instructor", "Otto Other")
    student = new_user(acme, "student@acme.test", "student", "Sam Student")
    return People(
        acme=acme,
        globex=globex,
        admin=acme.token,
        owner=token_for(owner),
        owner_id=owner["id"],
        other=token_for(other),
        student=token_for(student),
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


def seed_tree(
    tenant: TenantLogin,
    owner_id: str,
    modules: int,
    lessons: int | list[int],
    *,
    title: str = "Tree",
    published: bool = True,
) -> dict[str, Any]:
    """A course of ``modules`` × ``lessons`` written through the data layer (fast: no HTTP and
    no tree read per item), for tests about reading or deleting a tree rather than building it.
    ``lessons`` is a count per module, or one count for each. Titles are ``M<m>`` and
    ``M<m>L<n>``. Answers, in order,
    ``{"id": course id, "modules": [{"id": module id, "lessons": [lesson ids]}]}``."""
    from chalicelib.clock import iso, utcnow
    from chalicelib.context import Actor
    from chalicelib.db.store import default_store
    from chalicelib.ids import new_id
    from chalicelib.models.catalog import CourseRecord, LessonRecord, ModuleRecord
    from chalicelib.services.ranking import rank_between

    repo = default_store().catalog(
        tenant.tenant["id"], Actor(user_id=owner_id, correlation_id=None)
    )
    now = iso(utcnow())
    course = CourseRecord(
        id=new_id(),
        title=title,
        description="",
        published=published,
        owner_id=owner_id,
        created_at=now,
        updated_at=now,
    )
    repo.create_course(course)
    out: dict[str, Any] = {"id": course.id, "modules": []}
    module_rank: str | None = None
    for m in range(modules):
        module_rank = rank_between(module_rank, None)
        module = ModuleRecord(id=new_id(), title=f"M{m}", rank=module_rank)
        repo.add_module(course.id, module)
        lesson_ids: list[str] = []
        lesson_rank: str | None = None
        for n in range(lessons if isinstance(lessons, int) else lessons[m]):
            lesson_rank = rank_between(lesson_rank, None)
            lesson = LessonRecord(
                id=new_id(),
                module_id=module.id,
                title=f"M{m}L{n}",
                content="",
                duration_minutes=10,
                rank=lesson_rank,
            )
            repo.add_lesson(course.id, lesson)
            lesson_ids.append(lesson.id)
        out["modules"].append({"id": module.id, "lessons": lesson_ids})
    return out
