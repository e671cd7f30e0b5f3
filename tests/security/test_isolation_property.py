"""Tenant isolation as a property: random sequences of operations by several tenants (whose
slugs prefix each other: ``acme``, ``acme-corp``, ``acme-corp-eu``), each aimed at its own or
another tenant's ids. No answer carries another tenant's data, and no item of a tenant changes
through another tenant's caller.

Bounded in ``make test`` (20 sequences); ``make fuzz`` runs 5 × FUZZ_EXAMPLES.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.conftest import World, build_world, next_start
from tests.support.accounts import PASSWORD
from tests.support.eventkit import StreamTap
from tests.support.http import Api

pytestmark = pytest.mark.fuzz
SEQUENCES = 5 * int(os.environ.get("FUZZ_EXAMPLES", "4"))  # FUZZ_EXAMPLES: per operation
SLUGS = ("acme", "acme-corp", "acme-corp-eu")
ROLES = ("admin", "instructor", "student")


@pytest.fixture(scope="module")
def worlds(module_api: Api) -> dict[str, World]:
    return {slug: build_world(slug) for slug in SLUGS}


def owners_of_changes(tap: Any, tenants: dict[str, str]) -> list[tuple[str, str]]:
    """(tenant slug, key) of every main-table item written since the last call, read from the
    table's change stream (login counters aside)."""
    out = []
    for record in tap.records():
        image = record["dynamodb"].get("NewImage") or record["dynamodb"].get("OldImage") or {}
        if image.get("type", {}).get("S") == "login_throttle":
            continue
        pk = record["dynamodb"]["Keys"]["pk"]["S"]
        owner = next(
            (
                slug
                for tid, slug in tenants.items()
                if pk == f"T#{tid}" or pk.startswith(f"T#{tid}#")
            ),
            "?",
        )
        out.append((owner, pk))
    return out


def secrets_of(world: World) -> set[str]:
    """What only this tenant's answers may contain: its id, slug-scoped emails and its ids."""
    values = {world.tenant_id, world.course, world.draft, world.module, world.lesson, world.booking}
    values |= {p.id for p in world.people.values()} | {p.email for p in world.people.values()}
    return values


OPERATIONS = [
    ("GET", "/courses/{course}", None),
    ("GET", "/courses/{draft}", None),
    ("PATCH", "/courses/{course}", {"title": "Taken"}),
    ("DELETE", "/courses/{draft}", None),
    ("POST", "/courses/{course}/modules", {"title": "Injected"}),
    ("PATCH", "/courses/{course}/modules/{module}", {"title": "Taken"}),
    ("DELETE", "/courses/{course}/modules/{module}/lessons/{lesson}", None),
    ("GET", "/users/{student}", None),
    ("PATCH", "/users/{student}", {"name": "Taken"}),
    ("PATCH", "/users/{student}", {"role": "admin"}),
    ("GET", "/bookings/{booking}", None),
    ("POST", "/bookings/{booking}/cancel", None),
    ("POST", "/bookings/{booking}/complete", None),
    ("POST", "/bookings", "booking"),
    ("GET", "/courses", None),
    ("GET", "/users", None),
    ("GET", "/bookings", None),
    ("GET", "/audit", None),
    ("GET", "/tenants/me", None),
    ("POST", "/auth/login", "login"),
]


def request(world: World, target: World, op: tuple[str, str, Any]) -> tuple[str, str, Any]:
    method, template, body = op
    path = (
        template.replace("{course}", target.course)
        .replace("{draft}", target.draft)
        .replace("{module}", target.module)
        .replace("{lesson}", target.lesson)
        .replace("{student}", target.id("student"))
        .replace("{booking}", target.booking)
    )
    if body == "booking":
        start = next_start().isoformat().replace("+00:00", "Z")
        body = {"course_id": target.course, "starts_at": start, "duration_minutes": 60}
    elif body == "login":  # the target's admin, at the caller's slug (which may prefix it)
        body = {"tenant": world.slug, "email": target.people["admin"].email, "password": PASSWORD}
    return method, path, body


def test_no_tenant_sees_or_changes_another_tenants_data(
    module_api: Api, module_aws: dict[str, str], worlds: dict[str, World]
):
    steps = st.tuples(
        st.sampled_from(SLUGS),
        st.sampled_from(ROLES),
        st.sampled_from(SLUGS),
        st.sampled_from(OPERATIONS),
    )
    counted = {"steps": 0, "sequences": 0}
    tenants = {w.tenant_id: slug for slug, w in worlds.items()}
    tap = StreamTap(module_aws["MAIN_TABLE"])
    tap.skip()

    @settings(
        max_examples=SEQUENCES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(st.lists(steps, min_size=1, max_size=6))
    def run(sequence: list[tuple[str, str, str, tuple[str, str, Any]]]) -> None:
        counted["sequences"] += 1
        for actor_slug, role, target_slug, op in sequence:
            counted["steps"] += 1
            actor, target = worlds[actor_slug], worlds[target_slug]
            others = [w for slug, w in worlds.items() if slug != actor_slug]
            method, path, body = request(actor, target, op)
            token = None if path == "/auth/login" else actor.token(role)
            r = module_api.call(method, path, json_body=body, token=token)
            assert r.status < 500, (actor_slug, role, method, path, r.body)
            text = r.body.decode(errors="replace")
            if path == "/auth/login" and target is not actor:
                assert r.status in (401, 429), (actor_slug, target_slug, r.status)
            for other in others:
                leaked = [v for v in secrets_of(other) if v and v in text]
                assert leaked == [], (actor_slug, role, method, path, leaked)
            written = owners_of_changes(tap, tenants)
            foreign = [(owner, pk) for owner, pk in written if owner != actor_slug]
            assert foreign == [], (actor_slug, role, method, path, json.loads(r.body or b"null"))

    run()
    print(f"isolation: {counted['sequences']} sequences, {counted['steps']} operations")
