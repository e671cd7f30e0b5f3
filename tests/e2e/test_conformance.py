"""The service obeys its document: Schemathesis, reading the served ``/openapi.json``, sends
generated requests to the local stack over every operation, as each role and without a token,
and checks every answer: no server error, status codes, content types, headers and bodies as
documented, valid input accepted, invalid input rejected, authentication not ignored.

The run works in a tenant of its own (signed up here, with a course tree and bookings in several
states), so it cannot disturb the demo data other tests use. ``conformance_hooks.py`` puts the
tenant's real ids into positive cases. ``make test`` runs a bounded number of examples per
operation; ``make fuzz`` (``FUZZ_EXAMPLES``) runs many more with a random seed. Each caller's
report (text and JUnit) is written to ``test-output/conformance*/``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import PROJECT_DIR, LocalStack
from tests.e2e.instructors import ALWAYS

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class RunSettings:
    examples: int
    phases: str
    seed: int | None


PASSWORD = "conformance passphrase"
#: Operations that take no token (run once, anonymously); every other one runs as each role.
PUBLIC = (
    r"^(health|openapi|docs_page|docs_.*|sign_up|login|refresh|logout"
    r"|accept_invitation|forgot_password|reset_password)$"
)
CALLERS = ("student", "instructor", "admin", "public")
#: make test: the documented examples and a few generated cases per operation, positive and
#: negative, with a fixed seed. make fuzz adds the coverage phase (every boundary and every
#: kind of invalid value of every parameter) and many more cases, with a new seed each run.
BOUNDED = RunSettings(examples=3, phases="examples,fuzzing", seed=1)
REJECTIONS = json.dumps(
    ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
)
#: Methods a path does not have are answered by the edge (the local stack's HTTP server, API
#: Gateway), not the app; the edge's own tests cover them.
EXCLUDED_CHECKS = "unsupported_method"
#: Operations whose valid-looking input names a secret only an email carries: a generated link
#: token is, by contract, a 400 ``invalid_token`` (as a made-up cursor is a 400); any other
#: answer outside these is still a failure.
LINK_TOKEN_OPERATIONS = r"^(accept_invitation|reset_password)$"
LINK_TOKEN_ACCEPTED = json.dumps(["2XX", "400", "401", "403", "404", "409", "429"])


@dataclass
class Tenant:
    """The run's own tenant: a token per role and the ids the hooks put into positive cases."""

    tokens: dict[str, str]
    data: dict[str, Any]


def _call(stack: LocalStack, method: str, path: str, token: str | None, body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = requests.request(method, stack.url(path), json=body, headers=headers, timeout=30)
    assert r.status_code < 300, (method, path, r.status_code, r.text)
    return r.json() if r.content else None


def _start(days: int) -> str:
    start = (datetime.now(UTC) + timedelta(days=days)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    return start.isoformat().replace("+00:00", "Z")


def _make_tenant(stack: LocalStack) -> Tenant:
    slug = f"conformance-{uuid.uuid4().hex[:8]}"
    admin_email = f"admin@{slug}.example"
    signed = _call(
        stack,
        "POST",
        "/tenants",
        None,
        {
            "name": "Conformance",
            "slug": slug,
            "admin": {"email": admin_email, "name": "Ada", "password": PASSWORD},
        },
    )
    admin = signed["tokens"]["access_token"]
    users = {"admin": signed["user"]["id"]}
    tokens = {"admin": admin}
    for role in ("instructor", "student"):
        email = f"{role}@{slug}.example"
        body = {"email": email, "name": role.title(), "role": role, "password": PASSWORD}
        users[role] = _call(stack, "POST", "/users", admin, body)["id"]
        login = {"tenant": slug, "email": email, "password": PASSWORD}
        tokens[role] = _call(stack, "POST", "/auth/login", None, login)["access_token"]
    # The instructor teaches around the clock, so generated bookings meet an available teacher.
    _call(stack, "PUT", f"/users/{users['instructor']}/availability", admin, ALWAYS)
    trees = []
    for title in ("Algebra", "Geometry"):
        course = _call(
            stack, "POST", "/courses", tokens["instructor"], {"title": title, "published": True}
        )
        module = _call(
            stack, "POST", f"/courses/{course['id']}/modules", admin, {"title": "Module"}
        )
        lesson = _call(
            stack,
            "POST",
            f"/courses/{course['id']}/modules/{module['id']}/lessons",
            admin,
            {"title": "Lesson"},
        )
        trees.append(
            {"course_id": course["id"], "module_id": module["id"], "lesson_id": lesson["id"]}
        )
    bookings = []
    for day in range(1, 7):
        request = {
            "course_id": trees[0]["course_id"],
            "starts_at": _start(day * 3),
            "duration_minutes": 60,
        }
        bookings.append(_call(stack, "POST", "/bookings", tokens["student"], request)["id"])
    for booking in bookings[:4]:
        _call(stack, "POST", f"/bookings/{booking}/approve", admin)
    for booking in bookings[:2]:
        assign = {"instructor_id": users["instructor"]}
        _call(stack, "POST", f"/bookings/{booking}/assign", admin, assign)
    path_sets = [
        {**tree, "booking_id": booking, "user_id": user}
        for tree in trees
        for booking in bookings
        for user in users.values()
    ]
    data = {
        "tenant_id": signed["tenant"]["id"],
        "path_sets": path_sets,
        "body": {"course_id": trees[0]["course_id"], "instructor_id": users["instructor"]},
    }
    return Tenant(tokens=tokens, data=data)


@dataclass
class Run:
    who: str
    exit_code: int
    output: str

    @property
    def operations(self) -> int:
        found = re.search(r"Tested:\s+(\d+)", self.output)
        return int(found.group(1)) if found else 0

    @property
    def cases(self) -> int:
        found = re.search(r"(\d+) generated", self.output)
        return int(found.group(1)) if found else 0


def _command(tenant: Tenant, who: str, url: str, run: RunSettings, out: Path) -> list[str]:
    config = out / f"conformance-{who}.toml"
    # 413 (a body over 64 KiB) is a rejection too; Schemathesis does not list it by default.
    settings = f"[checks.negative_data_rejection]\nexpected-statuses = {REJECTIONS}\n"
    settings += (
        f'[[operations]]\ninclude-operation-id-regex = "{LINK_TOKEN_OPERATIONS}"\n'
        f"checks.positive_data_acceptance.expected-statuses = {LINK_TOKEN_ACCEPTED}\n"
    )
    if who != "public":
        # Through the document's security scheme, so Schemathesis knows the token is the
        # credential (and leaves it out where it checks that a missing one is refused).
        settings += f'[auth.openapi.bearerAuth]\nbearer = "{tenant.tokens[who]}"\n'
    config.write_text(settings)
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        f"--config-file={config}",
        "run",
        url,
        "--checks=all",
        f"--exclude-checks={EXCLUDED_CHECKS}",
        f"--max-examples={run.examples}",
        f"--phases={run.phases}",
        "--workers=1",
        # A busy machine (the suite runs beside other work) may answer slowly: wait, do not fail.
        "--request-timeout=60",
        "--generation-database=none",
        "--no-color",
        "--suppress-health-check=all",
        "--warnings=off",
        "--report=junit",
        f"--report-junit-path={out / f'conformance-{who}.xml'}",
    ]
    if run.seed is not None:
        command.append(f"--seed={run.seed}")
    regex = "include" if who == "public" else "exclude"
    command.append(f"--{regex}-operation-id-regex={PUBLIC}")
    return command


def _schemathesis(stack: LocalStack, tenant: Tenant, run: RunSettings, out: Path) -> list[Run]:
    """One Schemathesis process per caller, all at once (each waits on the server)."""
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.e2e.conformance_hooks",
        "CONFORMANCE_DATA": json.dumps(tenant.data),
        "CONFORMANCE_SEED": str(run.seed or 1),
    }
    started = {
        who: subprocess.Popen(
            _command(tenant, who, stack.url("/openapi.json"), run, out),
            cwd=PROJECT_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for who in CALLERS
    }
    runs = []
    for who, process in started.items():
        output, _ = process.communicate(timeout=1800)
        (out / f"conformance-{who}.txt").write_text(output)
        runs.append(Run(who, process.returncode, output))
    return runs


def _conform(local_stack: LocalStack, run: RunSettings, out: Path) -> list[Run]:
    runs = _schemathesis(local_stack, _make_tenant(local_stack), run, out)
    summary = ", ".join(f"{r.who}: {r.operations} operations, {r.cases} cases" for r in runs)
    print(f"\nconformance ({run}): {summary}; reports in {out}")
    failed = [r for r in runs if r.exit_code != 0]
    assert failed == [], "\n\n".join(f"== as {r.who}\n{r.output[-20000:]}" for r in failed)
    return runs


def _output(name: str) -> Path:
    out = PROJECT_DIR / "test-output" / name
    out.mkdir(parents=True, exist_ok=True)
    return out


def test_the_service_obeys_its_document(local_stack: LocalStack) -> None:
    runs = _conform(local_stack, BOUNDED, _output("conformance"))
    documented = requests.get(local_stack.url("/openapi.json"), timeout=30).json()["paths"]
    total = sum(len(ops) for ops in documented.values())
    # Every operation ran: the public ones once, the others as each of the three roles.
    public = runs[-1].operations
    assert all(r.operations == total - public for r in runs[:-1]), [r.operations for r in runs]
    assert all(r.cases > 0 for r in runs)


@pytest.mark.fuzz
def test_the_service_obeys_its_document_at_length(local_stack: LocalStack) -> None:
    """``make fuzz``: many examples per operation (``FUZZ_EXAMPLES``), a new seed each run."""
    examples = int(os.environ.get("FUZZ_EXAMPLES", "0"))
    if not examples:
        pytest.skip("set FUZZ_EXAMPLES (make fuzz does) to run the long conformance run")
    every_phase = RunSettings(examples, "examples,coverage,fuzzing,stateful", None)
    _conform(local_stack, every_phase, _output("conformance-long"))
