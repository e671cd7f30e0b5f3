"""The security suite's worlds: built once per module through the services and data layer
(HTTP is what the tests exercise, not how their data is made), with one password hash per
session and tokens minted with ``chalicelib.auth.tokens.issue_access``.

A world is one tenant with people in every position a caller can hold: two students, two
instructors, an admin, a deactivated admin and a demoted admin (both holding tokens issued
before the change), a published and a draft course of ``instructor`` with a module and a lesson,
and a booking of ``student`` assigned to ``instructor``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import pytest

from tests.support.accounts import PASSWORD
from tests.support.emulator import empty_world, fresh_world, reset_app_caches
from tests.support.http import Api

_quarters = itertools.count(1)


@lru_cache(maxsize=1)
def password_hash() -> str:
    from chalicelib.auth.passwords import hash_password

    return hash_password(PASSWORD)


def next_start() -> datetime:
    """A fresh hour days ahead, so sessions made with it never overlap (inside the default
    90-day booking horizon: the hours repeat after 1,500 bookings)."""
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    return base + timedelta(minutes=60 * (next(_quarters) % 1500))


@pytest.fixture(scope="module")
def module_aws(_moto: Any) -> Iterator[dict[str, str]]:
    """An empty emulated AWS account (built from infra/resources.json) for the whole module."""
    with pytest.MonkeyPatch.context() as mp:
        env = fresh_world(_moto)
        for key, value in env.items():
            mp.setenv(key, value)
        reset_app_caches()
        yield env
        empty_world(_moto)
    reset_app_caches()


@pytest.fixture(scope="module")
def module_client(module_aws: dict[str, str]) -> Iterator[Any]:
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="local") as c:
        reset_app_caches()
        yield c


@pytest.fixture(scope="module")
def module_api(module_client: Any) -> Api:
    return Api(module_client)


def token_for(user_id: str, tenant_id: str, role: str, *, auth_version: int = 0) -> str:
    from chalicelib.auth.tokens import issue_access
    from chalicelib.models.users import Role

    return issue_access(
        user_id, tenant_id, Role(role), datetime.now(UTC), auth_version=auth_version
    )


@dataclass
class Person:
    id: str
    email: str
    role: str
    token: str


@dataclass
class World:
    tenant_id: str
    slug: str
    people: dict[str, Person]
    course: str = ""
    draft: str = ""
    module: str = ""
    lesson: str = ""
    booking: str = ""
    made: dict[str, int] = field(default_factory=dict)

    def token(self, who: str) -> str:
        return self.people[who].token

    def id(self, who: str) -> str:
        return self.people[who].id

    # -- the services, acting as someone of this world (no HTTP) --------------------------
    def caller(self, who: str) -> Any:
        from chalicelib.context import Caller
        from chalicelib.models.users import Role

        person = self.people[who]
        return Caller(user_id=person.id, tenant_id=self.tenant_id, role=Role(person.role))

    def users(self) -> Any:
        from chalicelib.db.store import default_store

        return default_store().users(self.tenant_id, self.caller("admin").actor)

    def catalog(self, who: str = "instructor") -> Any:
        from chalicelib.db.store import default_store
        from chalicelib.services.catalog import CatalogService

        caller = self.caller(who)
        return CatalogService(caller, default_store().catalog(self.tenant_id, caller.actor))

    def bookings(self, who: str, *, now: datetime | None = None) -> Any:
        """The booking service as ``who``, at ``now`` (default: the real time)."""
        from chalicelib.db.store import default_store
        from chalicelib.services.bookings import BookingService

        caller = self.caller(who)
        repo = default_store().bookings(self.tenant_id, caller.actor)
        if now is None:
            return BookingService(caller, repo)
        return BookingService(caller, repo, clock=lambda: now)

    def add_user(self, who: str, role: str, *, token: bool = True) -> Person:
        from chalicelib.ids import new_id
        from chalicelib.models.users import Role, User

        n = self.made[who] = self.made.get(who, 0) + 1
        email = f"{who}-{n}@{self.slug}.example"
        user = User(
            id=new_id(),
            tenant_id=self.tenant_id,
            email=email,
            name=f"{who} {n}",
            role=Role(role),
            active=True,
            created_at=datetime.now(UTC),
        )
        self.users().create(user, password_hash())
        minted = token_for(user.id, self.tenant_id, role) if token else ""
        person = Person(id=user.id, email=email, role=role, token=minted)
        self.people.setdefault(who, person)
        return person

    def new_course(self, *, published: bool = True) -> str:
        from chalicelib.models.catalog import CourseIn

        return str(self.catalog().create_course(CourseIn(title="Algebra", published=published)).id)

    def new_module(self, course_id: str) -> str:
        from chalicelib.models.catalog import ModuleIn

        return str(self.catalog().add_module(course_id, ModuleIn(title="Unit")).id)

    def new_lesson(self, course_id: str, module_id: str) -> str:
        from chalicelib.models.catalog import LessonIn

        lesson = self.catalog().add_lesson(course_id, module_id, LessonIn(title="Lesson"))
        return str(lesson.id)

    def new_booking(self, state: str = "requested", student: str = "student") -> str:
        from chalicelib.models.bookings import BookingIn
        from chalicelib.services.bookings import Action

        start = next_start()
        at = None
        if state == "started":  # assigned, booked long ago for a session that has begun
            start -= timedelta(days=100)
            at = start - timedelta(days=3)
        body = BookingIn(course_id=self.course, starts_at=start, duration_minutes=60)
        booking = self.bookings(student, now=at).request(body)
        admin = self.bookings("admin", now=at)
        steps: dict[str, list[tuple[Action, dict[str, str]]]] = {
            "requested": [],
            "approved": [(Action.approve, {})],
            "assigned": [
                (Action.approve, {}),
                (Action.assign, {"instructor_id": self.id("instructor")}),
            ],
        }
        steps["started"] = steps["assigned"]
        for action, extra in steps[state]:
            booking = admin.act(action, booking.id, **extra)
        return str(booking.id)


def build_world(slug: str) -> World:
    """One tenant with a person in every position (see the module docstring)."""
    from chalicelib.context import Actor
    from chalicelib.db.store import default_store
    from chalicelib.ids import new_id
    from chalicelib.models.tenants import Tenant
    from chalicelib.models.users import Role, User

    now = datetime.now(UTC)
    tenant = Tenant(id=new_id(), slug=slug, name=f"Org {slug}", created_at=now)
    admin = User(
        id=new_id(),
        tenant_id=tenant.id,
        email=f"admin@{slug}.example",
        name="Ada Admin",
        role=Role.admin,
        active=True,
        created_at=now,
    )
    default_store().create_tenant_with_admin(
        tenant, admin, password_hash(), Actor(user_id=admin.id, correlation_id=None)
    )
    world = World(tenant_id=tenant.id, slug=slug, people={})
    world.people["admin"] = Person(
        admin.id, admin.email, "admin", token_for(admin.id, tenant.id, "admin")
    )
    for who, role in [
        ("student", "student"),
        ("student2", "student"),
        ("instructor", "instructor"),
        ("instructor2", "instructor"),
        ("deactivated", "admin"),
        ("demoted", "admin"),
        ("login", "student"),
    ]:
        world.add_user(who, role)
    from tests.support.bookings import give_availability

    for who in ("instructor", "instructor2"):
        give_availability(tenant.id, world.id(who))
    world.users().update(world.id("deactivated"), active=False)
    world.users().update(world.id("demoted"), role=Role.student)
    world.course = world.new_course()
    world.draft = world.new_course(published=False)
    world.module = world.new_module(world.course)
    world.lesson = world.new_lesson(world.course, world.module)
    world.booking = world.new_booking("assigned")
    return world


Factory = Callable[[World, str], Any]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A module's tests share its world (built once): under pytest-xdist they run on one
    worker (``--dist loadgroup``) so the world is not rebuilt on every worker."""
    for item in items:
        path = str(item.fspath).replace("\\", "/")
        if "/tests/security/" in path:
            item.add_marker(pytest.mark.xdist_group(path.rsplit("/", 1)[-1]))
