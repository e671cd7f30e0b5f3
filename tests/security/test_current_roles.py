"""A token acts with its user's current role and status: revoked rights stay revoked.

Each test holds a token issued *before* an admin changed the user, the way an attacker who was
demoted or deactivated would, and uses it over HTTP.
"""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.models.users import Role
from tests.security.conftest import World, build_world, next_start, token_for
from tests.support.accounts import PASSWORD
from tests.support.clock import FixedClock
from tests.support.http import Api


@pytest.fixture(scope="module")
def world(module_api: Api) -> World:
    return build_world("roles")


def demoted_admin(world: World, name: str) -> Any:
    """An admin whose token was issued before an admin made them a student."""
    person = world.add_user(name, "admin")
    world.users().update(person.id, role=Role.student)
    return person


def deactivated(world: World, name: str, role: str) -> Any:
    person = world.add_user(name, role)
    world.users().update(person.id, active=False)
    return person


def test_a_demoted_admin_cannot_promote_itself_or_act_as_admin(module_api: Api, world: World):
    api = module_api
    mallory = demoted_admin(world, "mallory")
    r = api.patch(f"/users/{mallory.id}", {"role": "admin"}, token=mallory.token)
    assert r.status == 403 and r.error_code == "forbidden"
    backdoor = {"email": "backdoor@roles.example", "name": "B", "role": "admin"}
    r = api.post("/users", {**backdoor, "password": PASSWORD}, token=mallory.token)
    assert r.status == 403
    r = api.patch(f"/users/{world.id('admin')}", {"active": False}, token=mallory.token)
    assert r.status == 404  # as a student, another user's record is not even visible
    assert api.get("/audit", token=mallory.token).status == 403
    # Nothing changed: still a student, the admin still active, no backdoor.
    me = api.get("/users/me", token=mallory.token)
    assert me.status == 200 and me.json["role"] == "student"
    admin = api.get(f"/users/{world.id('admin')}", token=world.token("admin")).json
    assert admin["active"] is True
    emails = [u["email"] for u in api.get("/users", token=world.token("admin")).json["items"]]
    assert "backdoor@roles.example" not in emails
    # What a student may do, it still may.
    start = next_start().isoformat().replace("+00:00", "Z")
    booking = {"course_id": world.course, "starts_at": start}
    assert (
        api.post("/bookings", {**booking, "duration_minutes": 60}, token=mallory.token).status
        == 201
    )


def test_a_deactivated_user_is_refused_everywhere_and_cannot_reactivate(
    module_api: Api, world: World
):
    api = module_api
    eve = deactivated(world, "eve", "admin")
    assert api.patch(f"/users/{eve.id}", {"active": True}, token=eve.token).status == 401
    assert api.get("/users/me", token=eve.token).status == 401
    assert api.get("/courses", token=eve.token).status == 401
    r = api.post("/courses", {"title": "Mine"}, token=eve.token)
    assert r.status == 401 and r.error_code == "unauthorized"
    # Reactivated by an admin, the tokens of the old logins stay dead.
    assert api.patch(f"/users/{eve.id}", {"active": True}, token=world.token("admin")).status == 200
    assert api.get("/users/me", token=eve.token).status == 401


def test_demoted_and_deactivated_instructors_stop_creating_courses(module_api: Api, world: World):
    api = module_api
    gone = deactivated(world, "gone-instructor", "instructor")
    assert api.post("/courses", {"title": "X"}, token=gone.token).status == 401
    moved = world.add_user("moved-instructor", "instructor")
    world.users().update(moved.id, role=Role.student)
    assert api.post("/courses", {"title": "X"}, token=moved.token).status == 403


def test_nobody_changes_their_own_role_or_active_flag(module_api: Api, world: World):
    api = module_api
    for who in ("admin", "instructor", "student"):
        me = world.id(who)
        for change in ({"role": "admin"}, {"role": "student"}, {"active": False}):
            r = api.patch(f"/users/{me}", change, token=world.token(who))
            assert r.status == 403, (who, change)
    # Its name it may change.
    assert (
        api.patch(
            f"/users/{world.id('student')}", {"name": "Sam"}, token=world.token("student")
        ).status
        == 200
    )


def test_tokens_of_users_or_tenants_that_do_not_exist_are_refused(
    module_api: Api, world: World, clock: FixedClock
):
    from chalicelib.db import keys
    from chalicelib.db.users import UserItem

    api = module_api
    ghost = world.add_user("ghost", "admin")
    assert api.get("/users/me", token=ghost.token).status == 200
    UserItem.get(*keys.user_key(world.tenant_id, ghost.id)).delete()
    for method, path, body in [
        ("POST", "/courses", {"title": "X"}),
        ("PATCH", "/tenants/me", {"name": "Taken over"}),
        ("GET", "/audit", None),
    ]:
        r = api.call(method, path, json_body=body, token=ghost.token)
        assert r.status == 401, (method, path)
    clock.advance(seconds=61)  # other reads: once this container's copy has expired
    assert api.get("/courses", token=ghost.token).status == 401
    nowhere = token_for(world.id("admin"), "NO-SUCH-TENANT", "admin")
    assert api.get("/users/me", token=nowhere).status == 401
    assert api.post("/courses", {"title": "X"}, token=nowhere).status == 401


def test_admin_only_reads_are_current_at_once_other_reads_within_a_minute(
    module_api: Api, world: World, clock: FixedClock
):
    api = module_api
    carol = world.add_user("carol", "admin")
    assert api.get("/users", token=carol.token).status == 200  # kept by this container
    assert api.get("/audit", token=carol.token).status == 200
    world.users().update(carol.id, role=Role.student)
    assert api.get("/audit", token=carol.token).status == 403  # admin-only: read fresh
    clock.advance(seconds=61)
    assert api.get("/users", token=carol.token).status == 403  # the kept copy has expired


def test_ending_all_sessions_stops_access_and_refresh_tokens_at_once(
    module_api: Api, world: World, clock: FixedClock
):
    from chalicelib.services.users import UserService

    api = module_api
    dave = world.add_user("dave", "student")
    tokens = api.post(
        "/auth/login", {"tenant": world.slug, "email": dave.email, "password": PASSWORD}
    ).json
    assert api.get("/users/me", token=tokens["access_token"]).status == 200
    UserService(world.caller("admin"), world.users()).end_sessions(dave.id)
    body = {"course_id": world.course, "starts_at": "2099-01-06T10:00:00Z", "duration_minutes": 60}
    assert api.post("/bookings", body, token=tokens["access_token"]).status == 401
    assert api.post("/bookings", body, token=dave.token).status == 401
    assert api.post("/auth/refresh", {"refresh_token": tokens["refresh_token"]}).status == 401
    fresh = api.post(
        "/auth/login", {"tenant": world.slug, "email": dave.email, "password": PASSWORD}
    )
    assert fresh.status == 200
    assert api.get("/users/me", token=fresh.json["access_token"]).status == 200
    clock.advance(seconds=61)
    assert api.get("/users/me", token=tokens["access_token"]).status == 401


def test_what_current_roles_cost_in_dynamodb_requests(
    module_api: Api, world: World, aws_requests: Any
):
    """Writes and admin-only routes: one strongly consistent GetItem of the caller more;
    other reads: none while the container keeps the caller (else one GetItem)."""
    api = module_api
    erin = world.add_user("erin", "admin")
    token = erin.token
    aws_requests.reset()
    api.get("/courses", token=token)
    cold_read = aws_requests.operations()
    aws_requests.reset()
    api.get("/courses", token=token)
    warm_read = aws_requests.operations()
    aws_requests.reset()
    api.get("/audit", token=token)
    admin_read = aws_requests.operations()
    aws_requests.reset()
    api.patch("/tenants/me", {"name": "Org roles"}, token=token)
    write = aws_requests.operations()
    assert cold_read == ["GetItem", "Query"] and warm_read == ["Query"]
    assert admin_read == ["GetItem", "Query"]  # the caller, fresh; the audit page
    assert write[0] == "GetItem" and write.count("GetItem") == 2  # the caller; the tenant
