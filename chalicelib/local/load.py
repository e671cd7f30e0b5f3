"""``make load``: a bounded, mixed, multi-tenant load on the local stack, over loopback only.

By default it starts a stack of its own (free ports, a throwaway state directory), so it never
touches the data of a running ``make dev``; ``--url`` drives a running stack instead. Several
tenants (two of them with slugs that prefix each other) each get an admin, instructors and
students; ``--threads`` workers then send ``--requests`` requests, each one operation of a
mixed workload picked for a random actor (course, module and lesson writes, bookings through
their workflow, user and tenant changes, reads and lists, and reads of another tenant's ids).

It stops by itself after ``--requests`` requests or ``--max-seconds`` seconds, and reports
throughput (also per tenth of the run, to show whether it falls), the stack's CPU seconds per
1,000 requests, the emulator's time per operation early and late, latency percentiles per
operation and the stack's resident memory before, during and after. It fails (exit 1) when any
answer is a 5xx, when any answer carries another tenant's data, or when a successful write is
not audited exactly once.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from chalicelib.local.harness import StackProcess, cpu_seconds, rss_bytes, start_stack

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
PASSWORD = "load-password-" + "x" * 12
MiB = 1024 * 1024
IDLE_SAMPLE_SECONDS = 10.0


# The world the workers act in ----------------------------------------------------------------


@dataclass
class Actor:
    tenant: Tenant
    role: str
    user_id: str
    email: str
    token: str = ""

    def __hash__(self) -> int:
        return hash(self.user_id)


@dataclass
class BookingState:
    id: str
    student_id: str
    status: str
    instructor_id: str | None = None


@dataclass
class Tenant:
    slug: str
    id: str = ""
    admins: list[Actor] = field(default_factory=list)
    instructors: list[Actor] = field(default_factory=list)
    students: list[Actor] = field(default_factory=list)
    #: course id -> owner id; modules: course id -> module ids; lessons: module id -> lesson ids
    courses: dict[str, str] = field(default_factory=dict)
    modules: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    lessons: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    #: bookings nobody is acting on, by status (a worker takes one out while it acts on it)
    bookings: dict[str, list[BookingState]] = field(default_factory=lambda: defaultdict(list))
    users: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def actors(self, role: str) -> list[Actor]:
        return {"admin": self.admins, "instructor": self.instructors, "student": self.students}[
            role
        ]


@dataclass(frozen=True)
class Write:
    """A successful write and the one audit entry it must yield."""

    tenant_id: str
    correlation_id: str
    entity_type: str
    entity_id: str
    action: str


class Failure(Exception):  # noqa: N818 - a finding of the run, reported at the end
    pass


# Recording -----------------------------------------------------------------------------------


@dataclass
class Sample:
    at: float
    requests: int
    rss: int | None
    #: the stack's user CPU seconds so far (contention does not inflate it, unlike wall-clock)
    cpu_user: float | None = None
    #: the emulator's operations so far: name -> (requests, seconds inside its lock, CPU s)
    emulator: dict[str, OpTimes] | None = None
    #: messages each of the emulator's queues holds (visible or in flight): is a consumer behind?
    queues: dict[str, int] | None = None


OpTimes = tuple[int, float, float]  # requests, seconds inside the emulator's lock, CPU seconds


def _sample(t0: float, requests_done: int, pid: int | None, emulator_url: str | None) -> Sample:
    cpu = cpu_seconds(pid) if pid else None
    timings, queues = emulator_stats(emulator_url) if emulator_url else (None, None)
    return Sample(
        time.monotonic() - t0,
        requests_done,
        rss_bytes(pid) if pid else None,
        cpu[0] if cpu else None,
        timings,
        queues,
    )


def emulator_stats(
    emulator_url: str,
) -> tuple[dict[str, OpTimes] | None, dict[str, int] | None]:
    """The local emulator's per-operation counters and its queues' message counts
    (``/_local/stats``), or None for either it does not answer."""
    try:
        answer = requests.get(f"{emulator_url}/_local/stats", timeout=30).json()
    except (requests.RequestException, ValueError):
        return None, None
    try:
        timings = {
            name: (int(t["requests"]), float(t["seconds"]), float(t.get("cpu_seconds", 0.0)))
            for name, t in answer["emulator_seconds_by_operation"].items()
        }
    except (KeyError, TypeError, ValueError):
        timings = None
    try:
        queues = {name: int(q["messages"]) for name, q in answer["emulator"]["sqs"].items()}
    except (KeyError, TypeError, ValueError):
        queues = None
    return timings, queues


class Record:
    """Every request's operation, status and latency; the findings; the memory samples."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.finished: list[float] = []  # monotonic end time of each timed request
        self.server_errors: list[str] = []
        self.leaks: list[str] = []
        self.writes: list[Write] = []
        self.ids: dict[str, str] = {}  # every id created -> its tenant id
        self.relogins = 0
        self.samples: list[Sample] = []

    def request(self, op: str, status: int, seconds: float, timed: bool) -> None:
        with self.lock:
            self.statuses[(op, status)] += 1
            if timed:
                self.latencies[op].append(seconds)
                self.finished.append(time.monotonic())

    def owned(self, tenant_id: str, *ids: str) -> None:
        with self.lock:
            for value in ids:
                self.ids[value] = tenant_id


# HTTP ----------------------------------------------------------------------------------------


class Client:
    """One worker's HTTP session against the stack; checks every answer it gets."""

    def __init__(self, base_url: str, record: Record, timed: bool = True) -> None:
        self.base_url = base_url
        self.record = record
        self.session = requests.Session()
        self.timed = timed

    def call(
        self,
        actor: Actor | None,
        op: str,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, str]:
        """One request (re-logging the actor in once if its token expired).

        Answers the status, the JSON body (or None) and the request's correlation id.
        """
        for attempt in (1, 2):
            correlation = f"load-{uuid.uuid4().hex}"
            sent = {"X-Correlation-Id": correlation, **(headers or {})}
            if actor is not None:
                sent["Authorization"] = f"Bearer {actor.token}"
            started = time.perf_counter()
            response = self.session.request(
                method, self.base_url + path, json=body, headers=sent, timeout=60
            )
            elapsed = time.perf_counter() - started
            if response.status_code == 401 and actor is not None and attempt == 1:
                login(self, actor)
                with self.record.lock:
                    self.record.relogins += 1
                continue
            break
        self.record.request(op, response.status_code, elapsed, self.timed)
        data = response.json() if response.content else None
        if response.status_code >= 500:
            with self.record.lock:
                self.record.server_errors.append(
                    f"{method} {path} -> {response.status_code} {response.text[:300]}"
                )
        if actor is not None and data is not None:
            self._check_tenant(actor, method, path, data)
        return response.status_code, data, correlation

    def _check_tenant(self, actor: Actor, method: str, path: str, data: Any) -> None:
        own = actor.tenant.id
        for key, value in _walk(data):
            if key == "tenant_id" and value != own:
                self._leak(f"{method} {path} by {actor.tenant.slug}: tenant_id {value}")
            elif isinstance(value, str):
                owner = self.record.ids.get(value)
                if owner is not None and owner != own:
                    self._leak(f"{method} {path} by {actor.tenant.slug}: id {value} of {owner}")

    def _leak(self, what: str) -> None:
        with self.record.lock:
            self.record.leaks.append(what)


def _walk(data: Any) -> Iterator[tuple[str | None, Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield key, value
            if isinstance(value, dict | list):
                yield from _walk(value)
    elif isinstance(data, list):
        for value in data:
            yield None, value
            if isinstance(value, dict | list):
                yield from _walk(value)


def login(client: Client, actor: Actor) -> None:
    status, data, _ = client.call(
        None,
        "login",
        "POST",
        "/auth/login",
        {"tenant": actor.tenant.slug, "email": actor.email, "password": PASSWORD},
    )
    if status != 200:
        raise Failure(f"login of {actor.email} failed: {status} {data}")
    actor.token = data["access_token"]


def wrote(
    record: Record, tenant: Tenant, correlation: str, kind: str, ident: str, action: str
) -> None:
    with record.lock:
        record.writes.append(Write(tenant.id, correlation, kind, ident, action))
        record.ids[ident] = tenant.id


# Building the tenants -------------------------------------------------------------------------


def build_tenant(client: Client, slug: str, instructors: int, students: int) -> Tenant:
    tenant = Tenant(slug=slug)
    admin_email = f"admin@{slug}.load.example"
    status, data, correlation = client.call(
        None,
        "sign_up",
        "POST",
        "/tenants",
        {
            "name": f"Load {slug}",
            "slug": slug,
            "admin": {"email": admin_email, "name": "Load Admin", "password": PASSWORD},
        },
    )
    if status != 201:
        raise Failure(f"sign-up of {slug} failed: {status} {data}")
    tenant.id = data["tenant"]["id"]
    admin = Actor(tenant, "admin", data["user"]["id"], admin_email, data["tokens"]["access_token"])
    tenant.admins.append(admin)
    client.record.owned(tenant.id, tenant.id)
    wrote(client.record, tenant, correlation, "tenant", tenant.id, "created")
    wrote(client.record, tenant, correlation, "user", admin.user_id, "created")
    for role, count in (("instructor", instructors), ("student", students)):
        for n in range(count):
            email = f"{role}{n}@{slug}.load.example"
            user = create_user(client, admin, email, role)
            actor = Actor(tenant, role, user, email)
            login(client, actor)
            tenant.actors(role).append(actor)
    for teacher in tenant.instructors:
        set_availability(client, admin, teacher)
        course_id = create_course(client, teacher)
        if course_id:
            module_id = create_module(client, teacher, course_id)
            if module_id:
                create_lesson(client, teacher, course_id, module_id)
    return tenant


#: Every day, all day (UTC): a student may ask for any time on the grid and someone is free
#: unless both instructors already teach then, so bookings go through their whole workflow.
ALWAYS_AVAILABLE = {
    "time_zone": "UTC",
    "weekly": [
        {"day": day, "start": "00:00", "end": "24:00"}
        for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    ],
    "exceptions": [],
}


def set_availability(client: Client, admin: Actor, teacher: Actor) -> None:
    path = f"/users/{teacher.user_id}/availability"
    status, data, _ = client.call(admin, "put_availability", "PUT", path, ALWAYS_AVAILABLE)
    if status != 200:
        raise Failure(f"setting the availability of {teacher.email} failed: {status} {data}")


def create_user(client: Client, admin: Actor, email: str, role: str) -> str:
    status, data, correlation = client.call(
        admin,
        "create_user",
        "POST",
        "/users",
        {"email": email, "name": f"Load {role}", "role": role, "password": PASSWORD},
    )
    if status != 201:
        raise Failure(f"creating {email} failed: {status} {data}")
    wrote(client.record, admin.tenant, correlation, "user", data["id"], "created")
    with admin.tenant.lock:
        admin.tenant.users.append(data["id"])
    return str(data["id"])


def create_course(client: Client, actor: Actor) -> str | None:
    title = f"Course {uuid.uuid4().hex[:10]}"
    status, data, correlation = client.call(
        actor, "create_course", "POST", "/courses", {"title": title, "published": True}
    )
    if status != 201:
        return None
    wrote(client.record, actor.tenant, correlation, "course", data["id"], "created")
    with actor.tenant.lock:
        actor.tenant.courses[data["id"]] = actor.user_id
    return str(data["id"])


def create_module(client: Client, actor: Actor, course_id: str) -> str | None:
    status, data, correlation = client.call(
        actor,
        "create_module",
        "POST",
        f"/courses/{course_id}/modules",
        {"title": f"Module {uuid.uuid4().hex[:8]}"},
    )
    if status != 201:
        return None
    wrote(client.record, actor.tenant, correlation, "module", data["id"], "created")
    with actor.tenant.lock:
        actor.tenant.modules[course_id].append(data["id"])
    return str(data["id"])


def create_lesson(client: Client, actor: Actor, course_id: str, module_id: str) -> str | None:
    status, data, correlation = client.call(
        actor,
        "create_lesson",
        "POST",
        f"/courses/{course_id}/modules/{module_id}/lessons",
        {
            "title": f"Lesson {uuid.uuid4().hex[:8]}",
            "content": "Read this.",
            "duration_minutes": 30,
        },
    )
    if status != 201:
        return None
    wrote(client.record, actor.tenant, correlation, "lesson", data["id"], "created")
    with actor.tenant.lock:
        actor.tenant.lessons[module_id].append((course_id, data["id"]))
    return str(data["id"])


# The workload ---------------------------------------------------------------------------------

Op = Callable[["Worker", Actor], None]


class Worker:
    def __init__(self, client: Client, tenants: list[Tenant], rng: random.Random) -> None:
        self.client = client
        self.tenants = tenants
        self.rng = rng

    def call(
        self, actor: Actor, op: str, method: str, path: str, body: Any = None
    ) -> tuple[int, Any, str]:
        return self.client.call(actor, op, method, path, body)

    def wrote(self, actor: Actor, correlation: str, kind: str, ident: str, action: str) -> None:
        wrote(self.client.record, actor.tenant, correlation, kind, ident, action)

    def any_course(self, tenant: Tenant) -> str | None:
        with tenant.lock:
            return self.rng.choice(list(tenant.courses)) if tenant.courses else None

    def own_course(self, actor: Actor) -> str | None:
        with actor.tenant.lock:
            mine = [c for c, owner in actor.tenant.courses.items() if owner == actor.user_id]
        if actor.role == "admin":
            return self.any_course(actor.tenant)
        return self.rng.choice(mine) if mine else None

    def take_booking(
        self, tenant: Tenant, status: str, who: Callable[[BookingState], bool]
    ) -> BookingState | None:
        """Take a booking out of the pool (so no other worker acts on it meanwhile)."""
        with tenant.lock:
            pool = tenant.bookings[status]
            for index in range(len(pool) - 1, max(-1, len(pool) - 60), -1):
                if who(pool[index]):
                    return pool.pop(index)
        return None

    def put_booking(self, tenant: Tenant, booking: BookingState) -> None:
        with tenant.lock:
            tenant.bookings[booking.status].append(booking)

    def other_tenant(self, tenant: Tenant) -> Tenant:
        return self.rng.choice([t for t in self.tenants if t is not tenant])


def _list_courses(w: Worker, a: Actor) -> None:
    w.call(a, "list_courses", "GET", "/courses?limit=20")


def _get_course(w: Worker, a: Actor) -> None:
    course = w.any_course(a.tenant)
    if course is None:
        return _list_courses(w, a)
    w.call(a, "get_course", "GET", f"/courses/{course}")
    return None


def _me(w: Worker, a: Actor) -> None:
    w.call(a, "users_me", "GET", "/users/me")


def _tenant(w: Worker, a: Actor) -> None:
    w.call(a, "tenants_me", "GET", "/tenants/me")


def _instructors(w: Worker, a: Actor) -> None:
    w.call(a, "list_instructors", "GET", "/users?role=instructor")


def _list_users(w: Worker, a: Actor) -> None:
    w.call(a, "list_users", "GET", "/users?limit=50")


def _list_bookings(w: Worker, a: Actor) -> None:
    w.call(a, "list_bookings", "GET", "/bookings?limit=20")


def _audit_page(w: Worker, a: Actor) -> None:
    w.call(a, "audit_page", "GET", "/audit?limit=20")


def _probe(w: Worker, a: Actor) -> None:
    """Read another tenant's course, booking or user by id: must be 404."""
    other = w.other_tenant(a.tenant)
    with other.lock:
        choices = [("course", c) for c in list(other.courses)[-20:]]
        choices += [("user", u) for u in other.users[-20:]]
        choices += [("booking", b.id) for b in other.bookings["requested"][-20:]]
    if not choices:
        return _me(w, a)
    kind, ident = w.rng.choice(choices)
    status, data, _ = w.call(a, "cross_tenant_read", "GET", f"/{kind}s/{ident}")
    if status != 404:
        w.client._leak(f"GET /{kind}s/{ident} of {other.slug} by {a.tenant.slug}: {status} {data}")
    return None


def _create_course(w: Worker, a: Actor) -> None:
    create_course(w.client, a)


def _patch_course(w: Worker, a: Actor) -> None:
    course = w.own_course(a)
    if course is None:
        return _create_course(w, a)
    title = f"Course {uuid.uuid4().hex[:10]}"
    status, _, corr = w.call(a, "patch_course", "PATCH", f"/courses/{course}", {"title": title})
    if status == 200:
        w.wrote(a, corr, "course", course, "updated")
    return None


def _create_module(w: Worker, a: Actor) -> None:
    course = w.own_course(a)
    with a.tenant.lock:
        full = course is None or len(a.tenant.modules[course]) >= 4
    if full or course is None:
        return _create_course(w, a)
    create_module(w.client, a, course)
    return None


def _create_lesson(w: Worker, a: Actor) -> None:
    course = w.own_course(a)
    with a.tenant.lock:
        modules = (
            [m for m in a.tenant.modules[course] if len(a.tenant.lessons[m]) < 4] if course else []
        )
    if course is None or not modules:
        return _create_module(w, a)
    create_lesson(w.client, a, course, w.rng.choice(modules))
    return None


def _patch_lesson(w: Worker, a: Actor) -> None:
    course = w.own_course(a)
    with a.tenant.lock:
        lessons = [
            (m, lesson)
            for m in (a.tenant.modules[course] if course else [])
            for _, lesson in a.tenant.lessons[m]
        ]
    if not lessons:
        return _create_lesson(w, a)
    module, lesson = w.rng.choice(lessons)
    path = f"/courses/{course}/modules/{module}/lessons/{lesson}"
    title = f"Lesson {uuid.uuid4().hex[:8]}"
    status, _, corr = w.call(a, "patch_lesson", "PATCH", path, {"title": title})
    if status == 200:
        w.wrote(a, corr, "lesson", lesson, "updated")
    return None


def _request_booking(w: Worker, a: Actor) -> None:
    course = w.any_course(a.tenant)
    if course is None:
        return _list_courses(w, a)
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(
        days=w.rng.randint(2, 80), minutes=15 * w.rng.randint(0, 95)
    )
    start = start.replace(minute=start.minute - start.minute % 15)
    body = {
        "course_id": course,
        "starts_at": start.isoformat().replace("+00:00", "Z"),
        "duration_minutes": w.rng.choice((30, 45, 60)),
        "note": "load",
    }
    status, data, corr = w.client.call(
        a,
        "request_booking",
        "POST",
        "/bookings",
        body,
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    if status == 201:
        w.wrote(a, corr, "booking", data["id"], "created")
        w.put_booking(a.tenant, BookingState(data["id"], a.user_id, "requested"))
    return None


def _transition(
    w: Worker,
    a: Actor,
    op: str,
    source: str,
    target: str,
    who: Callable[[BookingState], bool] = lambda b: True,
    body: Callable[[BookingState], Any] = lambda b: None,
) -> bool:
    booking = w.take_booking(a.tenant, source, who)
    if booking is None:
        return False
    payload = body(booking)
    status, data, corr = w.call(a, op, "POST", f"/bookings/{booking.id}/{op}", payload)
    if status == 200:
        w.wrote(a, corr, "booking", booking.id, "updated")
        booking.status = target
        booking.instructor_id = data.get("instructor_id") if isinstance(data, dict) else None
        if target in ("requested", "approved", "assigned"):
            w.put_booking(a.tenant, booking)
    elif status == 409 and source == "approved":
        w.put_booking(a.tenant, booking)  # instructor unavailable: try another time
    return True


def _approve(w: Worker, a: Actor) -> None:
    if not _transition(w, a, "approve", "requested", "approved"):
        _list_bookings(w, a)


def _assign(w: Worker, a: Actor) -> None:
    teachers = a.tenant.instructors

    def body(_: BookingState) -> Any:
        return {"instructor_id": w.rng.choice(teachers).user_id}

    if not _transition(w, a, "assign", "approved", "assigned", body=body):
        _approve(w, a)


def _reject(w: Worker, a: Actor) -> None:
    if not _transition(w, a, "reject", "requested", "rejected", body=lambda b: {"reason": "Full."}):
        _list_bookings(w, a)


def _complete(w: Worker, a: Actor) -> None:
    mine: Callable[[BookingState], bool] = (
        (lambda b: True) if a.role == "admin" else (lambda b: b.instructor_id == a.user_id)
    )
    if not _transition(w, a, "complete", "assigned", "completed", who=mine):
        _list_bookings(w, a)


def _cancel(w: Worker, a: Actor) -> None:
    def mine(b: BookingState) -> bool:
        return b.student_id == a.user_id

    source = w.rng.choice(("requested", "approved"))
    if not _transition(
        w, a, "cancel", source, "cancelled", who=mine, body=lambda b: {"reason": "Busy."}
    ):
        _list_bookings(w, a)


def _get_booking(w: Worker, a: Actor) -> None:
    with a.tenant.lock:
        own = [b.id for b in a.tenant.bookings["requested"][-40:] if b.student_id == a.user_id]
    if not own:
        return _list_bookings(w, a)
    w.call(a, "get_booking", "GET", f"/bookings/{w.rng.choice(own)}")
    return None


def _patch_user(w: Worker, a: Actor) -> None:
    with a.tenant.lock:
        users = list(a.tenant.users)
    if not users:
        return _list_users(w, a)
    user = w.rng.choice(users)
    name = f"Renamed {uuid.uuid4().hex[:6]}"
    status, _, corr = w.call(a, "patch_user", "PATCH", f"/users/{user}", {"name": name})
    if status == 200:
        w.wrote(a, corr, "user", user, "updated")
    return None


def _create_user(w: Worker, a: Actor) -> None:
    create_user(
        w.client, a, f"extra-{uuid.uuid4().hex[:10]}@{a.tenant.slug}.load.example", "student"
    )


def _patch_tenant(w: Worker, a: Actor) -> None:
    name = f"Load {a.tenant.slug} {uuid.uuid4().hex[:4]}"
    status, _, corr = w.call(a, "patch_tenant", "PATCH", "/tenants/me", {"name": name})
    if status == 200:
        w.wrote(a, corr, "tenant", a.tenant.id, "updated")


#: role -> (operation, weight); writes are about a third of the requests.
WORKLOAD: dict[str, list[tuple[Op, float]]] = {
    "student": [
        (_list_courses, 3),
        (_get_course, 3),
        (_request_booking, 3),
        (_list_bookings, 2),
        (_get_booking, 1),
        (_cancel, 0.6),
        (_instructors, 1),
        (_me, 1),
        (_tenant, 0.5),
        (_probe, 0.6),
    ],
    "instructor": [
        (_list_courses, 2),
        (_get_course, 2),
        (_create_course, 0.6),
        (_patch_course, 1),
        (_create_module, 0.8),
        (_create_lesson, 1),
        (_patch_lesson, 1),
        (_list_bookings, 1),
        (_complete, 0.8),
        (_me, 0.5),
        (_probe, 0.5),
    ],
    "admin": [
        (_list_users, 1),
        (_list_bookings, 1),
        (_approve, 2),
        (_assign, 2),
        (_reject, 0.3),
        (_complete, 0.4),
        (_audit_page, 0.5),
        (_patch_user, 0.5),
        (_create_user, 0.1),
        (_patch_tenant, 0.1),
        (_get_course, 1),
        (_probe, 0.5),
    ],
}
ROLES: tuple[str, ...] = ("student", "instructor", "admin")
ROLE_WEIGHTS: tuple[float, ...] = (0.45, 0.25, 0.30)


def run_worker(
    worker: Worker, counter: Iterator[int], total: int, deadline: float, stop: threading.Event
) -> None:
    while not stop.is_set() and time.monotonic() < deadline and next(counter) < total:
        tenant = worker.rng.choice(worker.tenants)
        role = worker.rng.choices(ROLES, ROLE_WEIGHTS)[0]
        actor = worker.rng.choice(tenant.actors(role))
        ops, weights = zip(*WORKLOAD[role], strict=True)
        op = worker.rng.choices(ops, weights)[0]
        try:
            op(worker, actor)
        except (requests.RequestException, Failure, ValueError) as exc:
            with worker.client.record.lock:
                worker.client.record.server_errors.append(f"{op.__name__}: {exc!r}")


# Verification ---------------------------------------------------------------------------------


def audit_entries(client: Client, admin: Actor) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        path = "/audit?limit=100" + (f"&cursor={cursor}" if cursor else "")
        status, data, _ = client.call(admin, "audit_read", "GET", path)
        if status != 200:
            raise Failure(f"reading the audit of {admin.tenant.slug} failed: {status} {data}")
        entries.extend(data["items"])
        cursor = data.get("next_cursor")
        if not cursor:
            return entries


def check_audit(
    client: Client, tenants: list[Tenant], writes: list[Write], settle_seconds: float
) -> tuple[int, list[str]]:
    """Wait until every write is audited (or ``settle_seconds`` pass); answer the problems."""
    expected = Counter((w.correlation_id, w.entity_type, w.entity_id, w.action) for w in writes)
    deadline = time.monotonic() + settle_seconds
    while True:
        found: Counter[tuple[str, str, str, str]] = Counter()
        for tenant in tenants:
            for e in audit_entries(client, tenant.admins[0]):
                key = (e.get("correlation_id") or "", e["entity_type"], e["entity_id"], e["action"])
                found[key] += 1
        missing = [k for k in expected if found[k] == 0]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(2)
    problems = [f"write not audited: {k}" for k in missing]
    problems += [f"audited {n} times: {k}" for k, n in found.items() if n > 1]
    return len(expected), problems


# Report ---------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def mib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / MiB:.0f} MiB"


def sample_memory(
    pid: int | None,
    record: Record,
    every: float,
    stop: threading.Event,
    t0: float,
    emulator_url: str | None = None,
) -> None:
    while not stop.wait(every):
        with record.lock:
            done = len(record.finished)
        record.samples.append(_sample(t0, done, pid, emulator_url))


def cpu_by_interval(samples: list[Sample]) -> list[dict[str, Any]]:
    """The stack's user CPU seconds per 1,000 requests between consecutive samples."""
    out = []
    for before, after in itertools.pairwise(samples):
        served = after.requests - before.requests
        if before.cpu_user is None or after.cpu_user is None or served <= 0:
            continue
        out.append(
            {
                "requests": f"{before.requests}-{after.requests}",
                "cpu_user_s_per_1000": round((after.cpu_user - before.cpu_user) * 1000 / served, 1),
            }
        )
    return out


def emulator_growth(samples: list[Sample], top: int = 8) -> dict[str, dict[str, float | None]]:
    """The emulator's busiest operations: mean milliseconds inside its lock, and CPU
    milliseconds of those, in the first and the last interval between samples (does an
    operation slow down as the data grows? does it work more, or wait for the interpreter?)."""
    timed = [s.emulator for s in samples if s.emulator is not None]
    if len(timed) < 3:
        return {}

    def mean_ms(
        before: dict[str, OpTimes], after: dict[str, OpTimes], op: str, which: int = 1
    ) -> float | None:
        zero = (0, 0.0, 0.0)
        n0, t0 = before.get(op, zero)[0], before.get(op, zero)[which]
        n1, t1 = after.get(op, zero)[0], after.get(op, zero)[which]
        return round((t1 - t0) * 1000 / (n1 - n0), 2) if n1 > n0 else None

    busiest = sorted(timed[-1], key=lambda op: -timed[-1][op][1])[:top]
    return {
        op: {
            "first_ms": mean_ms(timed[0], timed[1], op),
            "last_ms": mean_ms(timed[-2], timed[-1], op),
            "first_cpu_ms": mean_ms(timed[0], timed[1], op, which=2),
            "last_cpu_ms": mean_ms(timed[-2], timed[-1], op, which=2),
            "total_s": round(timed[-1][op][1], 1),
            "requests": timed[-1][op][0],
        }
        for op in busiest
    }


def report(record: Record, started: float, ended: float, extra: dict[str, Any]) -> dict[str, Any]:
    every = [s for values in record.latencies.values() for s in values]
    seconds = max(ended - started, 1e-9)
    finished = sorted(record.finished)
    tenths: list[float] = []
    if finished:
        size = max(1, len(finished) // 10)
        for i in range(0, len(finished) - size + 1, size):
            chunk = finished[i : i + size]
            span = chunk[-1] - (finished[i - 1] if i else started)
            tenths.append(round(len(chunk) / max(span, 1e-9), 1))
    return {
        "requests": len(every),
        "seconds": round(seconds, 1),
        "throughput_rps": round(len(every) / seconds, 1),
        "throughput_by_tenth_rps": tenths[:10],
        "latency_ms": {
            q: round(percentile(every, float(q[1:])) * 1000, 1)
            for q in ("p50", "p90", "p95", "p99")
        }
        | {"max": round(max(every, default=0) * 1000, 1)},
        "operations": {
            op: {
                "count": len(values),
                "p50_ms": round(percentile(values, 50) * 1000, 1),
                "p99_ms": round(percentile(values, 99) * 1000, 1),
            }
            for op, values in sorted(record.latencies.items())
        },
        "statuses": {f"{op} {status}": n for (op, status), n in sorted(record.statuses.items())},
        "relogins": record.relogins,
        "server_errors": record.server_errors[:20],
        "server_error_count": len(record.server_errors),
        "cross_tenant_reads": record.leaks[:20],
        "cross_tenant_read_count": len(record.leaks),
        "memory_samples": [
            {
                "seconds": round(s.at, 1),
                "requests": s.requests,
                "rss_mib": None if s.rss is None else round(s.rss / MiB),
                "queued": {name: n for name, n in (s.queues or {}).items() if n},
            }
            for s in record.samples
        ],
        "cpu_user_by_interval": cpu_by_interval(record.samples),
        "emulator_operations": emulator_growth(record.samples),
        **extra,
    }


def _print_memory(result: dict[str, Any]) -> None:
    print(
        f"[load] stack RSS: before {result['rss_before_mib']} MiB, after "
        f"{result['rss_after_mib']} MiB ({result['kib_per_request']} KiB per request), "
        f"once the events settled {result['rss_settled_mib']} MiB, after "
        f"{result.get('idle_seconds', 0)} s idle {result.get('rss_idle_mib')} MiB"
    )
    if result.get("rss_idle_trace_mib"):
        print(
            f"[load] stack RSS while idle, every {IDLE_SAMPLE_SECONDS:.0f} s (MiB): "
            f"{result['rss_idle_trace_mib']}"
        )
    for s in result["memory_samples"]:
        queued = ", ".join(f"{q} {n}" for q, n in s["queued"].items())
        print(
            f"         {s['seconds']:>7} s  {s['requests']:>6} requests  {s['rss_mib']} MiB"
            + (f"  queued: {queued}" if queued else "")
        )


def print_report(result: dict[str, Any]) -> None:
    lat = result["latency_ms"]
    print(
        f"[load] {result['requests']} requests in {result['seconds']} s: "
        f"{result['throughput_rps']} req/s; latency p50 {lat['p50']} ms, p90 {lat['p90']} ms, "
        f"p95 {lat['p95']} ms, p99 {lat['p99']} ms, max {lat['max']} ms",
        flush=True,
    )
    print(f"[load] throughput by tenth of the run (req/s): {result['throughput_by_tenth_rps']}")
    print("[load] per operation: count, p50 ms, p99 ms")
    for op, o in result["operations"].items():
        print(f"         {op:<18} {o['count']:>6} {o['p50_ms']:>8} {o['p99_ms']:>8}")
    if "rss_before_mib" in result:
        _print_memory(result)
    if "cpu_user_s_per_1000" in result:
        print(
            f"[load] the stack's CPU: {result['cpu_user_s_per_1000']} user s and "
            f"{result['cpu_system_s_per_1000']} system s per 1,000 requests; by interval "
            "(user s per 1,000):"
        )
        for c in result["cpu_user_by_interval"]:
            print(f"         {c['requests']:>13} requests  {c['cpu_user_s_per_1000']}")
    if result["emulator_operations"]:
        print(
            "[load] emulator operations: mean ms inside its lock (CPU ms of it), first / last "
            "interval"
        )
        for op, e in result["emulator_operations"].items():
            print(
                f"         {op:<40} {e['first_ms']} ({e['first_cpu_ms']}) / {e['last_ms']} "
                f"({e['last_cpu_ms']}) "
                f"({e['requests']} requests, {e['total_s']} s in all)"
            )
    if "stop_seconds" in result:
        print(
            f"[load] the stack stopped {result['stop_seconds']} s after SIGINT "
            f"(exit {result['stop_exit']})"
        )
    print(
        f"[load] checks: {result['server_error_count']} 5xx/errors, "
        f"{result['cross_tenant_read_count']} cross-tenant reads, "
        f"{result.get('writes_checked', 0)} writes checked against the audit, "
        f"{len(result.get('audit_problems', []))} audit problems"
    )
    for line in (
        result["server_errors"]
        + result["cross_tenant_reads"]
        + result.get("audit_problems", [])[:20]
    ):
        print(f"         {line}")


# Entry point ----------------------------------------------------------------------------------


def _loopback(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK:
        raise SystemExit(f"refusing to load {url}: only a local stack on loopback may be loaded")
    return url.rstrip("/")


def run(
    base_url: str,
    *,
    pid: int | None,
    total: int,
    threads: int,
    tenants: int,
    max_seconds: float,
    sample_seconds: float,
    settle_seconds: float,
    idle_seconds: float,
    seed: int,
    emulator_url: str | None = None,
) -> dict[str, Any]:
    record = Record()
    setup = Client(base_url, record, timed=False)
    run_id = uuid.uuid4().hex[:6]
    slugs = []
    for n in range(tenants):
        # Pairs of slugs that prefix each other (load-ab12-0 / load-ab12-0-corp).
        base = f"load-{run_id}-{n // 2}"
        slugs.append(base if n % 2 == 0 else f"{base}-corp")
    world = [build_tenant(setup, slug, instructors=2, students=3) for slug in slugs]
    rss_before = rss_bytes(pid) if pid else None
    stop = threading.Event()
    started = time.monotonic()
    record.samples.append(_sample(started, 0, pid, emulator_url))
    cpu_before = cpu_seconds(pid) if pid else None
    deadline = started + max_seconds
    counter = itertools.count()
    sampler = threading.Thread(
        target=sample_memory,
        args=(pid, record, sample_seconds, stop, started, emulator_url),
        daemon=True,
    )
    sampler.start()
    workers = [
        threading.Thread(
            target=run_worker,
            args=(
                Worker(Client(base_url, record), world, random.Random(seed + i)),  # noqa: S311 - a workload, not a secret
                counter,
                total,
                deadline,
                stop,
            ),
            name=f"load-{i}",
        )
        for i in range(threads)
    ]
    for t in workers:
        t.start()
    try:
        for t in workers:
            t.join()
    except KeyboardInterrupt:
        stop.set()
        for t in workers:
            t.join()
    ended = time.monotonic()
    stop.set()
    cpu_after = cpu_seconds(pid) if pid else None
    record.samples.append(_sample(started, len(record.finished), pid, emulator_url))
    rss_after = record.samples[-1].rss
    writes_checked = 0
    problems: list[str] = []
    if settle_seconds > 0:  # 0: a warm-up, whose writes nobody checks
        writes_checked, problems = check_audit(setup, world, record.writes, settle_seconds)
    # Idle: nothing is sent; the stack only finishes the events of the run, then polls.
    rss_settled = rss_bytes(pid) if pid else None
    rss_idle = None
    idle_trace: list[int] = []  # MiB every IDLE_SAMPLE_SECONDS: a trend, not one reading
    if pid and idle_seconds:
        idle_until = time.monotonic() + idle_seconds
        while (left := idle_until - time.monotonic()) > 0:
            time.sleep(min(IDLE_SAMPLE_SECONDS, left))
            idle_trace.append(round((rss_bytes(pid) or 0) / MiB))
        rss_idle = rss_bytes(pid)
    extra: dict[str, Any] = {
        "tenants": [t.slug for t in world],
        "threads": threads,
        "time_bound_reached": len(record.finished) < total,
        "writes_checked": writes_checked,
        "audit_problems": problems,
    }
    if pid:
        extra |= {
            "rss_before_mib": round((rss_before or 0) / MiB),
            "rss_after_mib": round((rss_after or 0) / MiB),
            "rss_settled_mib": round((rss_settled or 0) / MiB),
            "rss_idle_mib": round((rss_idle or 0) / MiB) if rss_idle else None,
            "idle_seconds": idle_seconds,
            "rss_idle_trace_mib": idle_trace,
            "rss_before_bytes": rss_before,
            "rss_after_bytes": rss_after,
            **_cpu_per_1000(cpu_before, cpu_after, len(record.finished)),
            "kib_per_request": round(
                ((rss_after or 0) - (rss_before or 0)) / 1024 / max(1, len(record.finished)), 1
            ),
        }
    return report(record, started, ended, extra)


def _cpu_per_1000(
    before: tuple[float, float] | None, after: tuple[float, float] | None, served: int
) -> dict[str, float]:
    if before is None or after is None or served <= 0:
        return {}
    return {
        "cpu_user_s_per_1000": round((after[0] - before[0]) * 1000 / served, 1),
        "cpu_system_s_per_1000": round((after[1] - before[1]) * 1000 / served, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chalicelib.local.load", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--requests", type=int, default=20_000, help="how many requests (default 20000)"
    )
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument(
        "--max-seconds", type=float, default=900, help="stop sending after this long"
    )
    parser.add_argument("--sample-seconds", type=float, default=30, help="memory sample period")
    parser.add_argument(
        "--settle-seconds", type=float, default=120, help="wait this long for audits"
    )
    parser.add_argument(
        "--idle-seconds", type=float, default=60, help="measure memory again after idling"
    )
    parser.add_argument(
        "--url", help="drive this running stack (loopback only) instead of starting one"
    )
    parser.add_argument(
        "--emulator-url", help="the running stack's emulator (for its per-operation timings)"
    )
    parser.add_argument("--pid", type=int, help="the running stack's process id (for its memory)")
    parser.add_argument("--report", type=Path, help="also write the report as JSON here")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    stack: StackProcess | None = None
    state_dir: Path | None = None
    if args.url:
        base_url, pid = _loopback(args.url), args.pid
        emulator_url = _loopback(args.emulator_url) if args.emulator_url else None
    else:
        state_dir = Path(tempfile.mkdtemp(prefix="tutorbook-load-"))
        print(
            f"[load] starting a local stack of its own (state and console log in {state_dir})",
            flush=True,
        )
        stack = start_stack(state_dir)
        base_url, pid, emulator_url = stack.base_url, stack.pid, stack.moto_url
    print(
        f"[load] {args.requests} requests, {args.threads} threads, {args.tenants} tenants against "
        f"{base_url} (at most {args.max_seconds:.0f} s)",
        flush=True,
    )
    try:
        result = run(
            base_url,
            pid=pid,
            total=args.requests,
            threads=args.threads,
            tenants=args.tenants,
            max_seconds=args.max_seconds,
            sample_seconds=args.sample_seconds,
            settle_seconds=args.settle_seconds,
            idle_seconds=args.idle_seconds,
            seed=args.seed,
            emulator_url=emulator_url,
        )
    finally:
        if stack is not None:
            code, seconds = stack.stop(signal.SIGINT, timeout=60)
    if stack is not None:
        result |= {"stop_seconds": round(seconds, 2), "stop_exit": code}
    print_report(result)
    if args.report:
        args.report.write_text(json.dumps(result, indent=2))
    ok = not (
        result["server_error_count"]
        or result["cross_tenant_read_count"]
        or result["audit_problems"]
        or result["time_bound_reached"]
    )
    if state_dir is not None:
        if ok:
            shutil.rmtree(state_dir, ignore_errors=True)
        else:
            print(f"[load] the stack's console log is in {state_dir / 'console.log'}")
    print("[load] PASS" if ok else "[load] FAIL", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
