"""Seed the demo tenant of the local stack through the public API, idempotently.

Tenant ``demo`` with one admin, instructor and student. Passwords are derived from the local
signing secret (``.local/jwt-secret``, never committed), so they differ per developer machine
yet a re-run against an existing emulator reports the same, still valid, logins.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger("tutorbook.local.seed")

DEMO_SLUG = "demo"
DEMO_NAME = "Demo Academy"
ROLES = ("admin", "instructor", "student")
NAMES = {"admin": "Ada Admin", "instructor": "Ivan Instructor", "student": "Sam Student"}

#: (method, path, json body or None, bearer token or None) -> (status, parsed json body or None)
Call = Callable[[str, str, Any, str | None], tuple[int, Any]]


@dataclass(frozen=True)
class DemoLogin:
    role: str
    tenant: str
    email: str
    password: str


@dataclass
class SeedResult:
    created: list[str]
    existing: list[str]
    logins: list[DemoLogin]
    warnings: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "tenant": DEMO_SLUG,
            "created": self.created,
            "existing": self.existing,
            "warnings": self.warnings,
            "logins": {login.role: asdict(login) for login in self.logins},
        }


def demo_logins(secret: bytes) -> list[DemoLogin]:
    logins = []
    for role in ROLES:
        digest = hmac.new(secret, f"demo-login:{role}".encode(), hashlib.sha256).digest()
        password = base64.urlsafe_b64encode(digest).decode().rstrip("=")[:20]
        logins.append(DemoLogin(role, DEMO_SLUG, f"{role}@demo.tutorbook.example", password))
    return logins


def seed(call: Call, secret: bytes) -> SeedResult:
    """Create what is missing of the demo tenant; report what already existed."""
    logins = {login.role: login for login in demo_logins(secret)}
    result = SeedResult(created=[], existing=[], logins=list(logins.values()), warnings=[])
    admin = logins["admin"]
    status, body = call(
        "POST",
        "/tenants",
        {
            "name": DEMO_NAME,
            "slug": DEMO_SLUG,
            "admin": {"email": admin.email, "name": NAMES["admin"], "password": admin.password},
        },
        None,
    )
    if status == 201:
        result.created.append("admin")
        token = body["tokens"]["access_token"]
    elif status == 409:
        result.existing.append("admin")
        status, body = call(
            "POST",
            "/auth/login",
            {"tenant": DEMO_SLUG, "email": admin.email, "password": admin.password},
            None,
        )
        if status != 200:
            result.warnings.append(
                f"tenant {DEMO_SLUG!r} exists but the demo admin login failed ({status}); "
                "it was seeded with another local secret"
            )
            return result
        token = body["access_token"]
    else:
        raise RuntimeError(f"seeding tenant {DEMO_SLUG!r} failed: {status} {body}")
    for role in ("instructor", "student"):
        login = logins[role]
        status, body = call(
            "POST",
            "/users",
            {"email": login.email, "name": NAMES[role], "role": role, "password": login.password},
            token,
        )
        if status == 201:
            result.created.append(role)
        elif status == 409:
            result.existing.append(role)
        else:
            raise RuntimeError(f"seeding the demo {role} failed: {status} {body}")
    invite_demo_user(call, token, result)
    return result


#: A demo student who was invited and has not accepted yet (no password; cannot log in).
INVITED_EMAIL = "invited@demo.tutorbook.example"


def invite_demo_user(call: Call, token: str, result: SeedResult) -> None:
    """Invite :data:`INVITED_EMAIL`: the invitation email, with its accept link, prints on the
    console like every email, and ``GET /users`` shows ``invitation_pending: true``."""
    status, body = call(
        "POST",
        "/users",
        {"email": INVITED_EMAIL, "name": "Ivy Invited", "role": "student"},
        token,
    )
    if status == 201:
        result.created.append("invited")
    elif status == 409:
        result.existing.append("invited")
    else:
        raise RuntimeError(f"inviting the demo user failed: {status} {body}")


def http_call(base_url: str, timeout: float = 30.0) -> Call:
    """A :data:`Call` over real HTTP (stdlib only)."""

    def call(method: str, path: str, body: Any, token: str | None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json", "X-Correlation-Id": "local-seed"}
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


def describe(result: SeedResult) -> str:
    lines = [f"demo tenant {DEMO_SLUG!r} (created: {result.created or 'nothing'})"]
    for login in result.logins:
        lines.append(
            f"  {login.role:<10} tenant={login.tenant} email={login.email} "
            f"password={login.password}"
        )
    lines.extend(f"  warning: {w}" for w in result.warnings)
    return "\n".join(lines)
