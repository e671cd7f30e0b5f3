"""Who may change a course and everything under it: every write × caller × draft/published.

Written from the contract: the admin and the instructor who owns the course may write; another
instructor of the tenant may not (403: they can see the course); students are turned away by the
routes' role gate (403) before the course is looked up; another tenant's admin cannot see the
course at all (404). A refused write changes nothing. (Each route's HTTP answer to these outcomes
is checked in ``tests/integration/test_catalog_routes.py``.)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from chalicelib.context import Caller
from chalicelib.errors import DomainError, Forbidden, NotFound
from chalicelib.models.catalog import (
    CourseIn,
    CoursePatchIn,
    LessonIn,
    LessonPatchIn,
    ModuleIn,
    ModulePatchIn,
)
from chalicelib.models.tenants import Tenant
from chalicelib.models.users import Role, User
from chalicelib.services.catalog import CatalogService
from tests.unit.fakes import FakeStore

STAFF = (Role.admin, Role.instructor)  # the routes' role gate on every catalog write
CALLERS = {
    "admin": ("acme", "u-admin", Role.admin),
    "owner": ("acme", "u-owner", Role.instructor),
    "other_instructor": ("acme", "u-other", Role.instructor),
    "student": ("acme", "u-student", Role.student),
    "other_tenant_admin": ("globex", "u-globex", Role.admin),
}
EXPECTED: dict[str, type[DomainError] | None] = {
    "admin": None,
    "owner": None,
    "other_instructor": Forbidden,
    "student": Forbidden,
    "other_tenant_admin": NotFound,
}

World = dict[str, str]
WRITES: dict[str, Callable[[CatalogService, World], object]] = {
    "update course": lambda s, w: s.update_course(w["c"], CoursePatchIn(title="X")),
    "delete course": lambda s, w: s.delete_course(w["c"]),
    "add module": lambda s, w: s.add_module(w["c"], ModuleIn(title="N")),
    "update module": lambda s, w: s.update_module(
        w["c"], w["m"], ModulePatchIn(title="N", position=0)
    ),
    "delete module": lambda s, w: s.delete_module(w["c"], w["m"]),
    "add lesson": lambda s, w: s.add_lesson(w["c"], w["m"], LessonIn(title="N")),
    "update lesson": lambda s, w: s.update_lesson(w["c"], w["m"], w["l"], LessonPatchIn(title="N")),
    "delete lesson": lambda s, w: s.delete_lesson(w["c"], w["m"], w["l"]),
}


def _store() -> FakeStore:
    store = FakeStore()
    now = datetime.now(UTC)
    for slug, _user_id, role in CALLERS.values():
        if slug not in store.slugs:
            tenant = Tenant(id=slug, slug=slug, name=slug, created_at=now)
            admin = User(
                id=f"{slug}-first",
                tenant_id=slug,
                email=f"first@{slug}.test",
                name="First",
                role=Role.admin,
                active=True,
                created_at=now,
            )
            store.create_tenant_with_admin(
                tenant, admin, "hash", Caller(admin.id, slug, role).actor
            )
    return store


def service(store: FakeStore, who: str) -> CatalogService:
    slug, user_id, role = CALLERS[who]
    caller = Caller(user_id, slug, role)
    return CatalogService(caller, store.catalog(slug, caller.actor))


def build(store: FakeStore, published: bool) -> World:
    owner = service(store, "owner")
    course = owner.create_course(CourseIn(title="Owned", published=published))
    module = owner.add_module(course.id, ModuleIn(title="M"))
    lesson = owner.add_lesson(course.id, module.id, LessonIn(title="L"))
    return {"c": course.id, "m": module.id, "l": lesson.id}


def attempt(store: FakeStore, who: str, write: str, world: World) -> object:
    """What the route does: its role gate, then the service."""
    if CALLERS[who][2] not in STAFF:
        raise Forbidden("role")
    return WRITES[write](service(store, who), world)


@pytest.mark.parametrize("published", [False, True])
@pytest.mark.parametrize("write", list(WRITES))
def test_every_write_by_every_caller(write: str, published: bool) -> None:
    store = _store()
    for who, outcome in EXPECTED.items():
        world = build(store, published)
        admin = service(store, "admin")
        before = admin.get_course(world["c"])
        if outcome is None:
            attempt(store, who, write, world)
            if write == "delete course":
                with pytest.raises(NotFound):
                    admin.get_course(world["c"])
            else:
                after = admin.get_course(world["c"])
                assert after.course != before.course and after.etag != before.etag
        else:
            with pytest.raises(outcome):
                attempt(store, who, write, world)
            assert admin.get_course(world["c"]) == before
