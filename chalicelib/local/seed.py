"""Demo data for the local stack, created through the public API, idempotently.

What a newcomer finds after ``make dev`` (the README says what to try first):

* tenant ``demo`` ("Demo Academy") with an admin, two instructors and two students, and an
  escalation time of :data:`ESCALATE_AFTER_MINUTES` minutes, so a waiting booking escalates soon;
* a published course with two modules of two lessons each, and an unpublished draft;
* two instructors with weekly availability in different time zones (:data:`AVAILABILITY`), so
  ``GET /slots`` for the course shows free times from the first minute; every demo user reads
  email times in their zone (:data:`TIME_ZONES`), the others in the tenant's
  (:data:`TENANT_SCHEDULING`);
* bookings in every state: requested, approved, assigned, rejected and cancelled a week ahead,
  and two at the instructor's earliest free slot (:data:`SOON`): one left ``requested`` that
  becomes ``expired`` once its start passes (the scheduler looks every few seconds), and one
  ``completed`` (where completing waits for the session's start, the first seed run after it
  completes it);
* a second tenant ``demo-corp`` (its slug starts with the first one's) with its own admin,
  student and course, to see that tenants never see each other.

Passwords are derived from the local signing secret (``.local/jwt-secret``, never committed),
so they differ per machine yet stay the same across runs. Every step looks for what it would
create (by email, title or booking note) and creates only what is missing, so a re-run, or a
run against data kept from an earlier start, changes nothing.

To seed a new feature, write one more step ``def _my_feature(s: Seeder) -> None`` that finds
or creates its data through the API (``s.call``, ``s.token(login)``, ``s.found``/``s.made``),
and add it to :data:`STEPS`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger("tutorbook.local.seed")

DEMO_SLUG = "demo"
DEMO_NAME = "Demo Academy"
OTHER_SLUG = "demo-corp"
OTHER_NAME = "Demo Corp Training"
ESCALATE_AFTER_MINUTES = 5
COURSE = "Algebra from scratch"
DRAFT = "Geometry (draft)"
OTHER_COURSE = "Corp onboarding"
MODULES = {
    "Numbers and operations": ["Whole numbers", "Fractions"],
    "Equations": ["Linear equations", "Systems of equations"],
}

#: (method, path, json body or None, bearer token or None) -> (status, parsed json body or None)
Call = Callable[[str, str, Any, str | None], tuple[int, Any]]


@dataclass(frozen=True)
class DemoLogin:
    role: str
    tenant: str
    email: str
    password: str
    name: str = ""

    @property
    def key(self) -> str:
        """How the result names this login: its role, numbered after the first of a tenant."""
        local = self.email.split("@", 1)[0]
        return local if self.tenant == DEMO_SLUG else f"{self.tenant}:{local}"


def _password(secret: bytes, name: str) -> str:
    digest = hmac.new(secret, f"demo-login:{name}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:20]


def demo_logins(secret: bytes) -> list[DemoLogin]:
    """Every demo login, the demo tenant's first (``admin``, ``instructor``, ``student``)."""
    people = [
        (DEMO_SLUG, "admin", "admin", "Ada Admin"),
        (DEMO_SLUG, "instructor", "instructor", "Ivan Instructor"),
        (DEMO_SLUG, "student", "student", "Sam Student"),
        (DEMO_SLUG, "instructor", "instructor2", "Irene Instructor"),
        (DEMO_SLUG, "student", "student2", "Sara Student"),
        (OTHER_SLUG, "admin", "admin", "Otto Admin"),
        (OTHER_SLUG, "student", "student", "Olga Student"),
    ]
    out = []
    for tenant, role, local, name in people:
        key = local if tenant == DEMO_SLUG else f"{tenant}:{local}"
        email = f"{local}@{tenant}.tutorbook.example"
        out.append(DemoLogin(role, tenant, email, _password(secret, key), name))
    return out


@dataclass
class SeedResult:
    created: list[str]
    existing: list[str]
    logins: list[DemoLogin]
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "tenant": DEMO_SLUG,
            "tenants": [DEMO_SLUG, OTHER_SLUG],
            "created": self.created,
            "existing": self.existing,
            "warnings": self.warnings,
            "logins": {login.key: asdict(login) for login in self.logins},
        }


class SeedError(RuntimeError):
    pass


class Seeder:
    """What the steps share: the API, the logins and their tokens, and the result."""

    def __init__(self, call: Call, secret: bytes) -> None:
        self.api = call
        self.logins = {login.key: login for login in demo_logins(secret)}
        self.result = SeedResult(created=[], existing=[], logins=list(self.logins.values()))
        self.tokens: dict[str, str] = {}
        self.ids: dict[str, str] = {}

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        """A request that must succeed (2xx); answers its JSON body."""
        status, data = self.api(method, path, body, token)
        if status >= 300:
            raise SeedError(f"{method} {path} answered {status}: {data}")
        return data

    def made(self, what: str) -> None:
        self.result.created.append(what)

    def found(self, what: str) -> None:
        self.result.existing.append(what)

    def token(self, key: str) -> str:
        if key not in self.tokens:
            login = self.logins[key]
            status, data = self.api(
                "POST",
                "/auth/login",
                {"tenant": login.tenant, "email": login.email, "password": login.password},
                None,
            )
            if status != 200:
                raise SeedError(f"demo login {login.email} failed ({status})")
            self.tokens[key] = data["access_token"]
        return self.tokens[key]

    def user_id(self, key: str) -> str:
        if key not in self.ids:
            self.ids[key] = self.call("GET", "/users/me", token=self.token(key))["id"]
        return self.ids[key]

    def items(self, path: str, token: str) -> list[dict[str, Any]]:
        """Every item of a list route, following its cursor."""
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            sep = "&" if "?" in path else "?"
            page = self.call(
                "GET",
                f"{path}{sep}limit=100" + (f"&cursor={cursor}" if cursor else ""),
                token=token,
            )
            out.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return out


class Stop(Exception):  # noqa: N818 - not an error: the seed cannot go on, with a warning
    pass


# Steps ----------------------------------------------------------------------------------------


def _tenant(s: Seeder, slug: str, name: str, admin_key: str) -> None:
    """The tenant and its admin: a login if they exist (cheaper than a refused sign-up)."""
    admin = s.logins[admin_key]
    status, body = s.api(
        "POST",
        "/auth/login",
        {"tenant": slug, "email": admin.email, "password": admin.password},
        None,
    )
    if status == 200:
        s.found(admin_key)
        s.tokens[admin_key] = body["access_token"]
        return
    status, body = s.api(
        "POST",
        "/tenants",
        {
            "name": name,
            "slug": slug,
            "admin": {"email": admin.email, "name": admin.name, "password": admin.password},
        },
        None,
    )
    if status == 201:
        s.made(admin_key)
        s.tokens[admin_key] = body["tokens"]["access_token"]
    elif status == 409:
        s.result.warnings.append(
            f"tenant {slug!r} exists but the demo admin login failed; it was seeded with "
            "another local secret (`make reset` starts afresh)"
        )
        raise Stop
    else:
        raise SeedError(f"seeding tenant {slug!r} failed: {status} {body}")


def _users(s: Seeder, tenant: str, admin_key: str) -> None:
    token = s.token(admin_key)
    existing = {u["email"] for u in s.items("/users", token)}
    for key, login in s.logins.items():
        if login.tenant != tenant or key == admin_key:
            continue
        if login.email in existing:
            s.found(key)
            continue
        body = {
            "email": login.email,
            "name": login.name,
            "role": login.role,
            "password": login.password,
        }
        status, data = s.api("POST", "/users", body, token)
        if status == 201:
            s.made(key)
        elif status == 409:
            s.found(key)
        else:
            raise SeedError(f"seeding the demo {key} failed: {status} {data}")


def demo_tenant(s: Seeder) -> None:
    _tenant(s, DEMO_SLUG, DEMO_NAME, "admin")
    _users(s, DEMO_SLUG, "admin")


def short_escalation(s: Seeder) -> None:
    tenant = s.call("GET", "/tenants/me", token=s.token("admin"))
    if tenant["escalate_after_minutes"] == ESCALATE_AFTER_MINUTES:
        s.found("escalation time")
        return
    s.call(
        "PATCH", "/tenants/me", {"escalate_after_minutes": ESCALATE_AFTER_MINUTES}, s.token("admin")
    )
    s.made("escalation time")


def _course(
    s: Seeder, admin: str, owner: str, title: str, published: bool, modules: dict[str, list[str]]
) -> str:
    """A course of ``owner`` with its modules and lessons (found through the tenant's admin)."""
    token = s.token(admin)
    existing = [c for c in s.items("/courses", token) if c["title"] == title]
    if existing:
        course = s.call("GET", f"/courses/{existing[0]['id']}", token=token)
        s.found(f"course {title!r}")
    else:
        token = s.token(owner)
        course = s.call("POST", "/courses", {"title": title, "published": published}, token)
        course["modules"] = []
        s.made(f"course {title!r}")
    cid = course["id"]
    have = {m["title"]: m for m in course.get("modules", [])}
    for module_title, lessons in modules.items():
        module = have.get(module_title) or s.call(
            "POST", f"/courses/{cid}/modules", {"title": module_title}, token
        )
        titles = {lesson["title"] for lesson in module.get("lessons", [])}
        for lesson in lessons:
            if lesson not in titles:
                s.call(
                    "POST",
                    f"/courses/{cid}/modules/{module['id']}/lessons",
                    {
                        "title": lesson,
                        "content": f"Notes for {lesson.lower()}.",
                        "duration_minutes": 45,
                    },
                    token,
                )
    return str(cid)


def catalog(s: Seeder) -> None:
    s.ids["course"] = _course(s, "admin", "instructor", COURSE, True, MODULES)
    _course(s, "admin", "instructor2", DRAFT, False, {"Shapes": ["Triangles"]})


#: booking note -> the actions that take a new booking there (after the student's request)
BOOKINGS: dict[str, list[str]] = {
    "requested": [],
    "approved": ["approve"],
    "assigned": ["approve", "assign"],
    "rejected": ["reject"],
    "cancelled": ["cancel"],
}


def bookings(s: Seeder) -> None:
    admin = s.token("admin")
    seeded = {b["note"] for b in s.items("/bookings", admin) if b["note"].startswith("demo: ")}
    start = (datetime.now(UTC) + timedelta(days=7)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    for n, (state, actions) in enumerate(BOOKINGS.items()):
        note = f"demo: {state}"
        if note in seeded:
            s.found(f"booking {state}")
            continue
        student = "student" if n % 2 == 0 else "student2"
        booking = s.call(
            "POST",
            "/bookings",
            {
                "course_id": s.ids["course"],
                "starts_at": (start + timedelta(days=n)).isoformat().replace("+00:00", "Z"),
                "duration_minutes": 60,
                "note": note,
            },
            s.token(student),
        )
        path = f"/bookings/{booking['id']}"
        for action in actions:
            if action == "assign":
                s.call("POST", f"{path}/assign", {"instructor_id": s.user_id("instructor")}, admin)
            elif action == "reject":
                s.call("POST", f"{path}/reject", {"reason": "No room that day."}, admin)
            elif action == "cancel":
                s.call("POST", f"{path}/cancel", {"reason": "Plans changed."}, s.token(student))
            else:
                s.call("POST", f"{path}/{action}", None, admin)
        s.made(f"booking {state}")


#: The demo tenant's zone and a short notice, so a request for the next free slot is possible;
#: reminders an hour ahead, so a session assigned for soon is reminded of within seconds.
TENANT_SCHEDULING = {
    "time_zone": "Europe/London",
    "min_notice_minutes": 30,
    "reminder_minutes_before": 60,
}

#: Each demo instructor's week, in their own zone (so slots differ by zone and cover most hours).
AVAILABILITY: dict[str, dict[str, Any]] = {
    "instructor": {
        "time_zone": "Europe/Berlin",
        "weekly": [
            {"day": day, "start": "07:00", "end": "21:00"}
            for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        ],
        "exceptions": [],
    },
    "instructor2": {
        "time_zone": "America/New_York",
        "weekly": [
            *(
                {"day": day, "start": "09:00", "end": "17:00"}
                for day in ("mon", "tue", "wed", "thu", "fri")
            ),
            {"day": "sat", "start": "10:00", "end": "14:00"},
        ],
        "exceptions": [],
    },
}

#: The zone each demo user reads times in (set by the user themself; the others: the tenant's).
TIME_ZONES = {"instructor": "Europe/Berlin", "instructor2": "America/New_York"}


def scheduling(s: Seeder) -> None:
    """The tenant's zone and notice, each instructor's availability and each user's zone."""
    admin = s.token("admin")
    tenant = s.call("GET", "/tenants/me", token=admin)
    if all(tenant.get(k) == v for k, v in TENANT_SCHEDULING.items()):
        s.found("tenant time zone")
    else:
        s.call("PATCH", "/tenants/me", TENANT_SCHEDULING, admin)
        s.made("tenant time zone")
    for key, week in AVAILABILITY.items():
        path = f"/users/{s.user_id(key)}/availability"
        if s.call("GET", path, token=admin) == week:
            s.found(f"availability {key}")
        else:
            s.call("PUT", path, week, admin)
            s.made(f"availability {key}")
    for key, zone in TIME_ZONES.items():
        token = s.token(key)
        if s.call("GET", "/users/me", token=token).get("time_zone") == zone:
            s.found(f"time zone {key}")
        else:
            s.call("PATCH", f"/users/{s.user_id(key)}", {"time_zone": zone}, token)
            s.made(f"time zone {key}")


#: booking note -> where a booking at the earliest free slot of ``instructor`` is taken.
SOON: dict[str, list[str]] = {
    "expired": [],  # left requested: it expires when its start passes
    "completed": ["approve", "assign", "complete"],
}


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def soon_bookings(s: Seeder) -> None:
    """Bookings at the course's earliest free slot of ``instructor``, so expiry and completion
    show on the first day (the slot comes from ``GET /slots``: it follows the booking rules)."""
    admin = s.token("admin")
    seeded = {b["note"]: b for b in s.items("/bookings", admin) if b["note"].startswith("demo: ")}
    now = datetime.now(UTC)
    for state in SOON:
        booking = seeded.get(f"demo: {state}")
        if booking is None:
            continue
        s.found(f"booking {state}")
        if "complete" in SOON[state] and booking["status"] == "assigned":
            _complete(s, booking["id"])  # too early at an earlier run
    missing = [state for state in SOON if f"demo: {state}" not in seeded]
    if not missing:
        return
    teacher = s.user_id("instructor")
    query = (
        f"/slots?course_id={s.ids['course']}&from={_iso(now.replace(microsecond=0))}"
        f"&to={_iso(now.replace(microsecond=0) + timedelta(days=7))}&duration_minutes=60"
    )
    slots = [
        x for x in s.call("GET", query, token=admin)["items"] if teacher in x["instructor_ids"]
    ]
    if not slots:
        s.result.warnings.append("no free slot of the demo instructor this week: nothing soon")
        return
    start = slots[0]["starts_at"]
    for state in missing:
        body = {"course_id": s.ids["course"], "starts_at": start, "duration_minutes": 60}
        booking = s.call(
            "POST", "/bookings", dict(body, note=f"demo: {state}"), s.token("student2")
        )
        for action in SOON[state]:
            if action == "complete":
                _complete(s, booking["id"])
                continue
            extra = {"instructor_id": teacher} if action == "assign" else None
            s.call("POST", f"/bookings/{booking['id']}/{action}", extra, admin)
        s.made(f"booking {state}")


def _complete(s: Seeder, booking_id: str) -> None:
    """The instructor completes the session; before its start that is refused (409
    ``too_early``) and the booking stays assigned until a seed run after its start."""
    path = f"/bookings/{booking_id}/complete"
    status, body = s.api("POST", path, None, s.token("instructor"))
    too_early = status == 409 and isinstance(body, dict) and body["error"]["code"] == "too_early"
    if status >= 300 and not too_early:
        raise SeedError(f"POST {path} answered {status}: {body}")


def second_tenant(s: Seeder) -> None:
    admin_key = f"{OTHER_SLUG}:admin"
    _tenant(s, OTHER_SLUG, OTHER_NAME, admin_key)
    _users(s, OTHER_SLUG, admin_key)
    _course(s, admin_key, admin_key, OTHER_COURSE, True, {"Welcome": ["Your first week"]})


#: A demo student who was invited and has not accepted yet (no password; cannot log in).
INVITED_EMAIL = "invited@demo.tutorbook.example"


def invited_user(s: Seeder) -> None:
    """Invite :data:`INVITED_EMAIL`: the invitation email, with its accept link, prints on the
    console like every email, and ``GET /users`` shows ``invitation_pending: true``."""
    status, body = s.api(
        "POST",
        "/users",
        {"email": INVITED_EMAIL, "name": "Ivy Invited", "role": "student"},
        s.token("admin"),
    )
    if status == 201:
        s.made("invited")
    elif status == 409:
        s.found("invited")
    else:
        raise SeedError(f"inviting the demo user failed: {status} {body}")


#: The seed, in order. Later features add their step here.
STEPS: list[Callable[[Seeder], None]] = [
    demo_tenant,
    invited_user,
    short_escalation,
    catalog,
    scheduling,
    bookings,
    soon_bookings,
    second_tenant,
]


def seed(call: Call, secret: bytes) -> SeedResult:
    """Create what is missing of the demo data; report what already existed."""
    seeder = Seeder(call, secret)
    for step in STEPS:
        try:
            step(seeder)
        except Stop:
            break
    return seeder.result


def http_call(base_url: str, timeout: float = 30.0) -> Call:
    """A :data:`Call` over real HTTP (stdlib only); each request has its own correlation id."""

    def call(method: str, path: str, body: Any, token: str | None) -> tuple[int, Any]:
        headers = {
            "Content-Type": "application/json",
            "X-Correlation-Id": f"local-seed-{uuid.uuid4().hex[:12]}",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - the local stack's own URL
            base_url + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                status, raw = int(response.status), response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:  # not JSON (a proxy's or server's HTML error page)
            return status, raw.decode(errors="replace")

    return call


def describe(result: SeedResult) -> list[str]:
    """The seed's outcome as log lines: what it created, then every demo login."""
    lines = [
        f"demo data for tenants {DEMO_SLUG!r} and {OTHER_SLUG!r} "
        f"(created: {', '.join(result.created) or 'nothing, all there'})"
    ]
    for login in result.logins:
        lines.append(
            f"demo login: tenant={login.tenant} email={login.email} password={login.password} "
            f"({login.role})"
        )
    lines.extend(f"seed warning: {w}" for w in result.warnings)
    return lines
