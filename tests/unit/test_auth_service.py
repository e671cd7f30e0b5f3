"""Auth rules on an in-memory store: lockout window, rotation, reuse, deactivation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.context import Caller
from chalicelib.errors import Conflict, Forbidden, NotFound, TooManyRequests, Unauthorized
from chalicelib.models.tenants import AdminIn, SignUpIn, SignUpOut, TenantPatchIn
from chalicelib.models.users import CreateUserIn, Role, UserPatchIn
from chalicelib.services.auth import AuthService
from chalicelib.services.tenants import SignUpService, TenantService
from chalicelib.services.users import UserService
from tests.support.clock import FixedClock
from tests.unit.fakes import FakeStore

PASSWORD = "correct horse battery staple"


World = tuple[FakeStore, SignUpOut]


@pytest.fixture
def world() -> World:
    store = FakeStore()
    out = SignUpService(store, correlation_id="c1").sign_up(
        SignUpIn(
            name="Acme",
            slug="acme",
            admin=AdminIn(email="a@acme.test", name="A", password=PASSWORD),
        )
    )
    return store, out


def auth_service(store: FakeStore, clock: FixedClock | None = None) -> AuthService:
    if clock is None:
        return AuthService(store, correlation_id="c2")
    return AuthService(store, correlation_id="c2", clock=clock)


def admin_of(out: SignUpOut) -> Caller:
    return Caller(user_id=out.user.id, tenant_id=out.tenant.id, role=Role.admin)


def test_lockout_counts_attempts_per_client_in_fixed_windows(world: World) -> None:
    store, _ = world
    clock = FixedClock(datetime(2026, 3, 2, 10, 3, 20, tzinfo=UTC))  # 200 s into a window
    auth = auth_service(store, clock)
    for _ in range(5):
        with pytest.raises(Unauthorized):
            auth.login("acme", "a@acme.test", "wrong password!", client="10.0.0.1")
    with pytest.raises(TooManyRequests) as locked:
        auth.login("acme", "a@acme.test", PASSWORD, client="10.0.0.1")
    assert locked.value.retry_after == 900 - 200 + 1
    # Another address is not locked out by the first one's failures.
    assert auth.login("acme", "a@acme.test", PASSWORD, client="10.0.0.2").access_token
    clock.advance(seconds=701)  # the next window
    assert auth.login("acme", "a@acme.test", PASSWORD, client="10.0.0.1").access_token
    # A success clears the address's counter: four more failures do not lock.
    for _ in range(4):
        with pytest.raises(Unauthorized):
            auth.login("acme", "a@acme.test", "wrong password!", client="10.0.0.1")
    assert auth.login("acme", "a@acme.test", PASSWORD, client="10.0.0.1").access_token


def test_the_account_ceiling_holds_across_addresses_and_a_reset_lifts_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.config import reset_settings

    monkeypatch.setenv("LOGIN_ACCOUNT_MAX_FAILURES", "7")
    reset_settings()
    store, out = world
    clock = FixedClock(datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC))
    auth = auth_service(store, clock)
    for n in range(7):
        with pytest.raises(Unauthorized):
            auth.login("acme", "a@acme.test", "wrong password!", client=f"10.0.1.{n}")
    with pytest.raises(TooManyRequests) as locked:
        auth.login("acme", "a@acme.test", PASSWORD, client="10.0.2.1")
    assert locked.value.retry_after == 3600 + 1  # until the hour is over
    assert auth.lift_locks(out.tenant.id, "a@acme.test") == 1
    assert auth.login("acme", "a@acme.test", PASSWORD, client="10.0.2.1").access_token
    monkeypatch.undo()
    reset_settings()


def test_rotation_and_reuse(world):
    store, out = world
    auth = auth_service(store)
    second = auth.refresh(out.tokens.refresh_token)
    third = auth.refresh(second.refresh_token)
    with pytest.raises(Unauthorized):
        auth.refresh(second.refresh_token)  # reuse
    with pytest.raises(Unauthorized):
        auth.refresh(third.refresh_token)  # the family is gone


def test_deactivation_ends_refresh(world):
    store, out = world
    users = UserService(admin_of(out), store.users(out.tenant.id, admin_of(out).actor))
    stu = users.create(
        CreateUserIn(email="s@acme.test", name="S", role=Role.student, password=PASSWORD)
    )
    tokens = auth_service(store).login("acme", "s@acme.test", PASSWORD)
    users.update(stu.id, UserPatchIn(active=False))
    with pytest.raises(Unauthorized):
        auth_service(store).refresh(tokens.refresh_token)
    with pytest.raises(Unauthorized):
        auth_service(store).login("acme", "s@acme.test", PASSWORD)


def test_user_rules(world):
    store, out = world
    admin = admin_of(out)
    repo = store.users(out.tenant.id, admin.actor)
    stu = UserService(admin, repo).create(
        CreateUserIn(email="s@acme.test", name="S", role=Role.student, password=PASSWORD)
    )
    as_student = UserService(
        Caller(user_id=stu.id, tenant_id=out.tenant.id, role=Role.student), repo
    )
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
    with pytest.raises(Forbidden):  # nobody changes their own role or active flag
        UserService(admin, repo).update(out.user.id, UserPatchIn(active=False))


def test_sign_up_with_taken_slug_is_a_conflict(world: World) -> None:
    store, _ = world
    with pytest.raises(Conflict):
        SignUpService(store, correlation_id=None).sign_up(
            SignUpIn(
                name="Other",
                slug="acme",
                admin=AdminIn(email="o@x.test", name="O", password=PASSWORD),
            )
        )


def test_an_empty_tenant_patch_changes_nothing(world: World) -> None:
    store, out = world
    admin = admin_of(out)
    service = TenantService(admin, store.tenants(out.tenant.id, admin.actor))
    assert service.update(TenantPatchIn()) == out.tenant
    assert service.update(TenantPatchIn(escalate_after_minutes=30)).escalate_after_minutes == 30
    assert service.get().escalate_after_minutes == 30
