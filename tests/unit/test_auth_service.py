"""Auth rules on an in-memory store: lockout window, rotation, reuse, deactivation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.clock import utcnow
from chalicelib.context import Caller
from chalicelib.errors import Conflict, Forbidden, NotFound, TooManyRequests, Unauthorized
from chalicelib.models.tenants import AdminIn, SignUpIn
from chalicelib.models.users import CreateUserIn, Role, UserPatchIn
from chalicelib.services.auth import AuthService
from chalicelib.services.tenants import TenantService
from chalicelib.services.users import UserService
from tests.unit.fakes import FakeStore

PASSWORD = "correct horse battery staple"


@pytest.fixture
def world():
    store = FakeStore()
    out = TenantService(store).sign_up(
        SignUpIn(
            name="Acme",
            slug="acme",
            admin=AdminIn(email="a@acme.test", name="A", password=PASSWORD),
        ),
        correlation_id="c1",
    )
    return store, out


def test_lockout_counts_failures_in_a_sliding_window(world, monkeypatch):
    store, _ = world
    auth = AuthService(store)
    now = utcnow()
    monkeypatch.setattr("chalicelib.services.auth.utcnow", lambda: now)
    for _ in range(5):
        with pytest.raises(Unauthorized):
            auth.login("acme", "a@acme.test", "wrong password!")
    with pytest.raises(TooManyRequests) as locked:
        auth.login("acme", "a@acme.test", PASSWORD)
    assert 890 <= locked.value.retry_after <= 901
    monkeypatch.setattr(
        "chalicelib.services.auth.utcnow", lambda: now + timedelta(minutes=15, seconds=1)
    )
    assert auth.login("acme", "a@acme.test", PASSWORD).access_token
    # A success clears the counter: four more failures do not lock.
    for _ in range(4):
        with pytest.raises(Unauthorized):
            auth.login("acme", "a@acme.test", "wrong password!")
    assert auth.login("acme", "a@acme.test", PASSWORD).access_token


def test_rotation_and_reuse(world):
    store, out = world
    auth = AuthService(store)
    second = auth.refresh(out.tokens.refresh_token)
    third = auth.refresh(second.refresh_token)
    with pytest.raises(Unauthorized):
        auth.refresh(second.refresh_token)  # reuse
    with pytest.raises(Unauthorized):
        auth.refresh(third.refresh_token)  # the family is gone


def test_deactivation_ends_refresh(world):
    store, out = world
    admin = Caller(user_id=out.user.id, tenant_id=out.tenant.id, role="admin")
    users = UserService(store, admin)
    stu = users.create(
        CreateUserIn(email="s@acme.test", name="S", role=Role.student, password=PASSWORD)
    )
    tokens = AuthService(store).login("acme", "s@acme.test", PASSWORD)
    users.update(stu.id, UserPatchIn(active=False))
    with pytest.raises(Unauthorized):
        AuthService(store).refresh(tokens.refresh_token)
    with pytest.raises(Unauthorized):
        AuthService(store).login("acme", "s@acme.test", PASSWORD)


def test_user_rules(world):
    store, out = world
    admin = Caller(user_id=out.user.id, tenant_id=out.tenant.id, role="admin")
    stu = UserService(store, admin).create(
        CreateUserIn(email="s@acme.test", name="S", role=Role.student, password=PASSWORD)
    )
    as_student = UserService(store, Caller(user_id=stu.id, tenant_id=out.tenant.id, role="student"))
    with pytest.raises(Forbidden):
        as_student.create(
            CreateUserIn(email="t@acme.test", name="T", role=Role.admin, password=PASSWORD)
        )
    with pytest.raises(Forbidden):
        as_student.list(None, 20, None)
    assert as_student.list(Role.instructor, 20, None).items == []
    with pytest.raises(NotFound):
        as_student.get(out.user.id)
    with pytest.raises(Forbidden):
        as_student.update(stu.id, UserPatchIn(role=Role.admin))
    assert as_student.update(stu.id, UserPatchIn(name="Sam")).name == "Sam"
    assert as_student.update(stu.id, UserPatchIn()).name == "Sam"
    with pytest.raises(Conflict):
        UserService(store, admin).update(out.user.id, UserPatchIn(active=False))


def test_sign_up_with_taken_slug_is_a_conflict(world):
    store, _ = world
    with pytest.raises(Conflict):
        TenantService(store).sign_up(
            SignUpIn(
                name="Other",
                slug="acme",
                admin=AdminIn(email="o@x.test", name="O", password=PASSWORD),
            ),
            correlation_id=None,
        )
