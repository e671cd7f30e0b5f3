"""The authorization matrix (``authorization_matrix.txt``): every route x every kind of caller.

One row per route and target; each cell is one HTTP request whose status must be the one the
table names (a 4xx also in the error envelope). The table must list every route the app
serves: a new route without a row fails here (OWASP API1 / API5: object and function level
authorization).
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.security.conftest import World, build_world, next_start
from tests.support.accounts import PASSWORD
from tests.support.http import Api

MATRIX = Path(__file__).with_name("authorization_matrix.txt")
CALLERS = ("anon", "stu", "stu2", "ins", "ins2", "adm", "xadm", "deact", "demot")
_PLACEHOLDER = re.compile(r"{([a-z_]+)}")
_counter = itertools.count(1)


@dataclass(frozen=True)
class Row:
    method: str
    template: str
    body: str
    expected: dict[str, int]

    @property
    def id(self) -> str:
        return f"{self.method} {self.template} {self.body}"


def read_matrix() -> list[Row]:
    rows = []
    for line in MATRIX.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        method, template, body, *statuses = line.split()
        assert len(statuses) == len(CALLERS), line
        rows.append(
            Row(method, template, body, dict(zip(CALLERS, map(int, statuses), strict=True)))
        )
    return rows


ROWS = read_matrix()


def route_of(method: str, template: str) -> tuple[str, str] | None:
    """The app's route a row's request goes to (placeholders match path parameters)."""
    from app import app  # noqa: F401 - registers every route
    from chalicelib.api.framework import ROUTES

    segments = template.split("?")[0].split("/")
    for spec in ROUTES:
        route = spec.path.split("/")
        if spec.method != method or len(route) != len(segments):
            continue
        if all(
            r == s or (r.startswith("{") and s.startswith("{"))
            for r, s in zip(route, segments, strict=True)
        ):
            return spec.method, spec.path
    return None


def test_the_matrix_lists_every_route_of_the_app(module_api: Api):
    from app import app  # noqa: F401
    from chalicelib.api.framework import ROUTES

    served = {(spec.method, spec.path) for spec in ROUTES}
    listed = {route_of(row.method, row.template) for row in ROWS}
    assert None not in listed, [
        row.id for row in ROWS if route_of(row.method, row.template) is None
    ]
    assert served - listed == set(), "routes without a row in authorization_matrix.txt"
    assert len(ROWS) * len(CALLERS) >= len(served) * len(CALLERS)


@dataclass
class Worlds:
    home: World
    other: World

    def person(self, caller: str) -> tuple[World, str] | None:
        """The world and the person a column stands for (None: no token)."""
        return {
            "anon": None,
            "stu": (self.home, "student"),
            "stu2": (self.home, "student2"),
            "ins": (self.home, "instructor"),
            "ins2": (self.home, "instructor2"),
            "adm": (self.home, "admin"),
            "xadm": (self.other, "admin"),
            "deact": (self.home, "deactivated"),
            "demot": (self.home, "demoted"),
        }[caller]


@pytest.fixture(scope="module")
def worlds(module_api: Api) -> Worlds:
    return Worlds(home=build_world("matrix"), other=build_world("matrix-x"))


def _refresh_token(world: World) -> str:
    from chalicelib.db.store import default_store
    from chalicelib.models.users import Access, Role
    from chalicelib.services.auth import AuthService

    login = world.people["login"]
    access = Access(role=Role.student, active=True, auth_version=0)
    tokens = AuthService(default_store(), correlation_id=None).issue(
        login.id, world.tenant_id, access
    )
    return tokens.refresh_token


BODIES: dict[str, Callable[[World], Any]] = {
    "-": lambda w: None,
    "signup": lambda w: {
        "name": "New org",
        "slug": f"m-{uuid.uuid4().hex[:12]}",
        "admin": {"email": "first@new.example", "name": "First", "password": PASSWORD},
    },
    "name": lambda w: {"name": "Renamed"},
    "login": lambda w: {"tenant": w.slug, "email": w.people["login"].email, "password": PASSWORD},
    "refresh": lambda w: {"refresh_token": _refresh_token(w)},
    "logout": lambda w: {"refresh_token": _refresh_token(w)},
    "new_user": lambda w: {
        "email": f"made-{next(_counter)}@matrix.example",
        "name": "Made",
        "role": "admin",
        "password": PASSWORD,
    },
    "instructor": lambda w: {"role": "instructor"},
    "inactive": lambda w: {"active": False},
    "admin": lambda w: {"role": "admin"},
    "active": lambda w: {"active": True},
    "course": lambda w: {"title": "New course"},
    "title": lambda w: {"title": "Renamed"},
    "booking": lambda w: {
        "course_id": w.course,
        "starts_at": next_start().isoformat().replace("+00:00", "Z"),
        "duration_minutes": 60,
    },
    "assign": lambda w: {"instructor_id": w.id("instructor")},
    "accept": lambda w: {"tenant": w.slug, "token": "not-a-link-token", "password": PASSWORD},
    "forgot": lambda w: {"tenant": w.slug, "email": w.people["login"].email},
    "reset": lambda w: {"tenant": w.slug, "token": "not-a-link-token", "password": PASSWORD},
    "wrong_pw": lambda w: {"current_password": "not the password", "new_password": PASSWORD},
    "reason": lambda w: {"reason": "No room that day"},
    "reschedule": lambda w: {"starts_at": next_start().isoformat().replace("+00:00", "Z")},
    "availability": lambda w: {
        "time_zone": "UTC",
        "weekly": [{"day": "mon", "start": "09:00", "end": "17:00"}],
    },
    # No body: first every student and instructor of the world gets a calendar feed, so a
    # revocation always has one to revoke (whatever ran before on this worker).
    "with_feeds": lambda w: _give_feeds(w),
}

TARGETS: dict[str, Callable[[World], str]] = {
    "student": lambda w: w.id("student"),
    "instructor": lambda w: w.id("instructor"),
    "course": lambda w: w.course,
    "draft": lambda w: w.draft,
    "module": lambda w: w.module,
    "lesson": lambda w: w.lesson,
    "booking": lambda w: w.booking,
    "new_student": lambda w: w.add_user("cell", "student", token=False).id,
    "new_admin": lambda w: w.add_user("cell", "admin", token=False).id,
    "new_course": lambda w: w.new_course(),
    "new_module": lambda w: w.new_module(w.course),
    "new_lesson": lambda w: w.new_lesson(w.course, w.module),
    "new_requested": lambda w: w.new_booking("requested"),
    "new_approved": lambda w: w.new_booking("approved"),
    "new_assigned": lambda w: w.new_booking("assigned"),
    "new_started": lambda w: w.new_booking("started"),
    "new_session": lambda w: _new_session(w),
    "new_invited": lambda w: _new_invited(w),
    "feed": lambda w: _feed(w),
}


def _new_session(world: World) -> str:
    """A new login of the world's student (its id)."""
    from chalicelib.auth.tokens import verify_refresh
    from chalicelib.db.store import default_store
    from chalicelib.models.users import Access, Role
    from chalicelib.services.auth import AuthService

    access = Access(role=Role.student, active=True, auth_version=0)
    tokens = AuthService(default_store(), correlation_id=None).issue(
        world.id("student"), world.tenant_id, access
    )
    return verify_refresh(tokens.refresh_token).family_id


def _give_feeds(world: World) -> None:
    from chalicelib.db.store import default_store
    from chalicelib.services.calendar import CalendarFeeds

    for who, person in list(world.people.items()):
        if person.role in ("student", "instructor"):
            caller = world.caller(who)
            repo = default_store().calendar_feeds(world.tenant_id, caller.actor)
            CalendarFeeds(caller, repo).create("http://matrix.test")


def _feed(world: World) -> str:
    """The path segment of a calendar feed of the world's student (``<token>.ics``)."""
    from chalicelib.db.store import default_store
    from chalicelib.services.calendar import CalendarFeeds

    caller = world.caller("student")
    repo = default_store().calendar_feeds(world.tenant_id, caller.actor)
    return CalendarFeeds(caller, repo).create("http://matrix.test").url.rsplit("/", 1)[1]


def _new_invited(world: World) -> str:
    """A user of the world invited by its admin and not accepted yet (their id)."""
    from chalicelib.db.store import default_store
    from chalicelib.models.users import CreateUserIn, Role
    from chalicelib.services.accounts import AccountService

    body = CreateUserIn(
        email=f"invited-{next(_counter)}@matrix.example", name="I", role=Role.student
    )
    service = AccountService(default_store(), correlation_id=None)
    return service.create_user(world.caller("admin"), body).id


def cell(api: Api, worlds: Worlds, row: Row, caller: str) -> int:
    """Send one cell's request; answer its status (asserting the envelope of a 4xx)."""
    home = worlds.home
    who = worlds.person(caller)

    def target(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "self":
            return home.id("student") if who is None else who[0].id(who[1])
        return TARGETS[name](home)

    path = _PLACEHOLDER.sub(target, row.template)
    token = None if who is None else who[0].token(who[1])
    r = api.call(row.method, path, json_body=BODIES[row.body](home), token=token)
    if 400 <= r.status < 500:
        assert set(r.json["error"]) == {"code", "message", "details"}, (row.id, caller, r.body)
    return r.status


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_each_caller_gets_the_status_the_matrix_names(module_api: Api, worlds: Worlds, row: Row):
    got = {caller: cell(module_api, worlds, row, caller) for caller in CALLERS}
    assert got == row.expected
