"""Login throttling: counted before the password is checked, per account and client address,
with an hourly ceiling per account; nobody can keep someone else's account locked for long.

The client address is API Gateway's ``requestContext.identity.sourceIp``; the test client's
gateway is given one per request the way the local stack gives its peer's
(``chalicelib/local/peer.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.local.peer import set_source_ip
from tests.security.conftest import World, build_world
from tests.support.accounts import PASSWORD
from tests.support.clock import FixedClock
from tests.support.http import Api

WRONG = "not the password!"


@pytest.fixture(scope="module")
def address(module_client: Any) -> dict[str, str]:
    current = {"ip": "198.51.100.1"}
    set_source_ip(module_client.http._local_gateway, lambda: current["ip"])
    return current


@pytest.fixture(scope="module")
def world(module_api: Api, address: dict[str, str]) -> World:
    return build_world("throttle")


@pytest.fixture
def from_address(address: dict[str, str]) -> Iterator[Any]:
    def use(ip: str) -> None:
        address["ip"] = ip

    yield use
    address["ip"] = "198.51.100.1"


def attempt(api: Api, world: World, email: str, password: str) -> Any:
    return api.post("/auth/login", {"tenant": world.slug, "email": email, "password": password})


def test_an_attacker_elsewhere_cannot_lock_the_owner_out(
    module_api: Api, world: World, from_address: Any, clock: FixedClock
):
    clock.now = clock.now.replace(minute=1)  # pinned: no window ends during the test
    victim = world.add_user("victim", "student")
    from_address("203.0.113.66")
    statuses = [attempt(module_api, world, victim.email, WRONG).status for _ in range(7)]
    assert statuses == [401] * 5 + [429, 429]
    r = attempt(module_api, world, victim.email, PASSWORD)
    assert r.status == 429 and 1 <= int(r.headers["retry-after"]) <= 15 * 60 + 1
    from_address("198.51.100.7")  # the owner, at home
    assert attempt(module_api, world, victim.email, PASSWORD).status == 200


def test_a_deactivated_account_answers_like_a_wrong_password_and_counts(
    module_api: Api, world: World, from_address: Any, clock: FixedClock
):
    clock.now = clock.now.replace(minute=3)
    gone = world.add_user("gone", "student")
    world.users().update(gone.id, active=False)
    from_address("203.0.113.70")
    right = attempt(module_api, world, gone.email, PASSWORD)
    wrong = attempt(module_api, world, gone.email, WRONG)
    assert right.status == wrong.status == 401
    assert right.json == wrong.json and right.error_code == "invalid_credentials"
    statuses = [attempt(module_api, world, gone.email, PASSWORD).status for _ in range(4)]
    assert statuses == [401, 401, 401, 429]  # the right password counted as a failure


def test_the_account_ceiling_holds_across_addresses_until_the_hour_ends(
    module_api: Api, world: World, from_address: Any, clock: FixedClock, monkeypatch: Any
):
    from chalicelib.config import get_settings, reset_settings

    monkeypatch.setenv("LOGIN_ACCOUNT_MAX_FAILURES", "12")
    reset_settings()
    assert get_settings().login_account_max_failures == 12
    clock.now = clock.now.replace(minute=2)
    target = world.add_user("target", "student")
    statuses = []
    for n in range(4):  # a botnet: four addresses, each below its own limit
        from_address(f"203.0.113.{100 + n}")
        statuses += [attempt(module_api, world, target.email, WRONG).status for _ in range(3)]
    assert statuses == [401] * 12
    from_address("198.51.100.8")
    r = attempt(module_api, world, target.email, PASSWORD)
    assert r.status == 429 and int(r.headers["retry-after"]) <= 3600 + 1
    clock.advance(seconds=int(r.headers["retry-after"]))  # the next hour
    assert attempt(module_api, world, target.email, PASSWORD).status == 200
    monkeypatch.undo()
    reset_settings()


def test_a_reset_lifts_every_lock_of_the_account(
    module_api: Api, world: World, from_address: Any, clock: FixedClock
):
    clock.now = clock.now.replace(minute=5)
    from chalicelib.db.store import default_store
    from chalicelib.services.auth import AuthService

    locked = world.add_user("locked", "student")
    for ip in ("203.0.113.20", "203.0.113.21"):
        from_address(ip)
        for _ in range(5):
            attempt(module_api, world, locked.email, WRONG)
        assert attempt(module_api, world, locked.email, PASSWORD).status == 429
    service = AuthService(default_store(), correlation_id=None)
    assert service.lift_locks(world.tenant_id, locked.email) == 1
    assert attempt(module_api, world, locked.email, PASSWORD).status == 200


def test_a_success_clears_the_address_but_not_the_accounts_failures(
    module_api: Api, world: World, from_address: Any, clock: FixedClock
):
    clock.now = clock.now.replace(minute=4)
    from chalicelib.db import keys
    from chalicelib.db.auth import LoginCounterItem

    user = world.add_user("regular", "student")
    from_address("198.51.100.9")
    for _ in range(4):
        assert attempt(module_api, world, user.email, WRONG).status == 401
    assert attempt(module_api, world, user.email, PASSWORD).status == 200
    for _ in range(4):  # the address starts again: four more failures do not lock
        assert attempt(module_api, world, user.email, WRONG).status == 401
    assert attempt(module_api, world, user.email, PASSWORD).status == 200
    pk, _ = keys.credential_key(world.tenant_id, user.email)
    [counter] = LoginCounterItem.query(pk, LoginCounterItem.sk.startswith("LOGIN#"))
    assert counter.failures == 8  # the two successes are no failures
