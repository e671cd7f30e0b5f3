"""Helpers for the booking tests: a tenant with its people and courses, bookings in any state."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.accounts import TenantLogin, new_tenant, new_user, token_for
from tests.support.http import Api

_hours = itertools.count(1)


def future(hours: float = 48, minute: int = 0) -> str:
    at = datetime.now(UTC).replace(minute=minute, second=0, microsecond=0) + timedelta(hours=hours)
    return at.isoformat().replace("+00:00", "Z")


def next_start() -> str:
    """A fresh hour far enough apart that bookings made with it never overlap (within the
    default 90-day booking horizon: the hours repeat after 1,000 bookings)."""
    return future(hours=24 * 3 + 2 * (next(_hours) % 1000))


#: Around the clock, every day (UTC): instructors with it are free whenever no session holds them.
ALWAYS_AVAILABLE: dict[str, Any] = {
    "time_zone": "UTC",
    "weekly": [
        {"day": d, "start": "00:00", "end": "24:00"}
        for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    ],
}


def give_availability(tenant_id: str, user_id: str, doc: dict[str, Any] | None = None) -> None:
    """Store an instructor's availability through the data layer (default: always)."""
    from chalicelib.context import Actor
    from chalicelib.db.store import default_store
    from chalicelib.models.scheduling import Availability

    repo = default_store().scheduling(tenant_id, Actor(user_id=None, correlation_id="setup"))
    repo.put_availability(user_id, Availability.model_validate(doc or ALWAYS_AVAILABLE))


@dataclass
class World:
    """One tenant: an admin, two students, two instructors (available around the clock), a
    published and a draft course."""

    api: Api
    tenant: TenantLogin
    slug: str
    tenant_id: str
    tokens: dict[str, str]
    ids: dict[str, str]
    course: str
    draft: str
    made: list[str] = field(default_factory=list)

    def token(self, who: str) -> str:
        return self.tokens[who]

    def request(self, who: str = "student", **overrides: Any) -> dict[str, Any]:
        body = {"course_id": self.course, "starts_at": next_start(), "duration_minutes": 60}
        body.update(overrides)
        r = self.api.post("/bookings", body, token=self.token(who))
        assert r.status == 201, r.body
        return dict(r.json)

    def act(self, who: str, booking_id: str, action: str, body: Any = None) -> Any:
        if body is None and action == "assign":
            body = {"instructor_id": self.ids["instructor"]}
        if body is None and action == "reject":
            body = {"reason": "No room that day"}
        path = f"/bookings/{booking_id}/{action}"
        if action == "complete":  # only once the session has started
            return self.later(lambda: self.api.post(path, body, token=self.token(who)))
        return self.api.post(path, body, token=self.token(who))

    def booking_in(self, state: str, **overrides: Any) -> dict[str, Any]:
        """A booking of ``student`` driven (by the admin) into ``state``."""
        b = self.request(**overrides)
        path = {
            "requested": [],
            "approved": ["approve"],
            "assigned": ["approve", "assign"],
            "completed": ["approve", "assign", "complete"],
            "rejected": ["approve", "reject"],
            "cancelled": ["approve", "assign", "cancel"],
        }[state]
        for action in path:
            r = self.act("admin", b["id"], action)
            assert r.status == 200, (action, r.body)
            b = r.json
        assert b["status"] == state
        return b

    @staticmethod
    def later(call: Callable[[], Any]) -> Any:
        """``call()`` with the app's clock a year ahead, after every session a test books has
        started (then put back)."""
        from chalicelib.db.store import default_store

        store = default_store()
        before = store.clock
        store.clock = lambda: datetime.now(UTC) + timedelta(days=366)
        try:
            return call()
        finally:
            store.clock = before

    def get(self, booking_id: str, who: str = "admin") -> Any:
        return self.api.get(f"/bookings/{booking_id}", token=self.token(who))


def make_world(api: Api, slug: str = "acme", *, available: bool = True) -> World:
    """Built through the data layer (people) and the API (courses): nothing here is under test.
    ``available=False`` leaves the instructors without availability (never offered)."""
    t = new_tenant(slug)
    ids = {"admin": t.admin["id"]}
    tokens = {"admin": t.token}
    for who, role in [
        ("student", "student"),
        ("other_student", "student"),
        ("instructor", "instructor"),
        ("other_instructor", "instructor"),
    ]:
        email = f"{who.replace('_', '-')}@{slug}.example"
        user = new_user(t, email, role, name=who)
        ids[who] = user["id"]
        tokens[who] = token_for(user)
        if role == "instructor" and available:
            give_availability(t.tenant["id"], user["id"])
    course = api.post("/courses", {"title": "Algebra", "published": True}, token=t.token)
    assert course.status == 201, course.body
    draft = api.post("/courses", {"title": "Draft"}, token=t.token)
    assert draft.status == 201, draft.body
    return World(
        api=api,
        tenant=t,
        slug=slug,
        tenant_id=t.tenant["id"],
        tokens=tokens,
        ids=ids,
        course=course.json["id"],
        draft=draft.json["id"],
    )


# The transition table as the contract states it, written independently of the service's table.
ROLES = {
    "approve": {"admin"},
    "assign": {"admin"},
    "complete": {"admin", "instructor"},
    "reject": {"admin"},
    "cancel": {"admin", "student"},
}
SOURCES = {
    "approve": {"requested"},
    "assign": {"approved"},
    "complete": {"assigned"},
    "reject": {"requested", "approved"},
    "cancel": {"requested", "approved", "assigned"},
}
TARGET = {
    "approve": "approved",
    "assign": "assigned",
    "complete": "completed",
    "reject": "rejected",
    "cancel": "cancelled",
}
