"""In-memory stand-ins for the data layer, so service rules are tested without AWS."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from chalicelib.context import Actor
from chalicelib.errors import Conflict, NotFound
from chalicelib.models.common import Page
from chalicelib.models.tenants import Tenant
from chalicelib.models.users import Role, User


@dataclass
class Cred:
    user_id: str
    password_hash: str


@dataclass
class Throttle:
    failures: int = 0
    window_started: float = 0


@dataclass
class Family:
    user_id: str
    token_hash: str
    revoked: bool = False


class FakeStore:
    def __init__(self) -> None:
        self.slugs: dict[str, str] = {}
        self.tenants_by_id: dict[str, Tenant] = {}
        self.users_by_key: dict[tuple[str, str], User] = {}
        self.creds: dict[tuple[str, str], Cred] = {}
        self.throttles: dict[tuple[str, str], Throttle] = {}
        self.families: dict[tuple[str, str], Family] = {}

    def tenant_id_for_slug(self, slug: str) -> str | None:
        return self.slugs.get(slug)

    def create_tenant_with_admin(
        self, tenant: Tenant, admin: User, password_hash: str, actor: Actor
    ) -> None:
        if tenant.slug in self.slugs:
            raise Conflict("taken")
        self.slugs[tenant.slug] = tenant.id
        self.tenants_by_id[tenant.id] = tenant
        self.users(tenant.id, actor).create(admin, password_hash)

    def tenants(self, tenant_id: str, actor: Actor) -> FakeTenants:
        return FakeTenants(self, tenant_id)

    def users(self, tenant_id: str, actor: Actor) -> FakeUsers:
        return FakeUsers(self, tenant_id)

    def auth(self, tenant_id: str, actor: Actor) -> FakeAuth:
        return FakeAuth(self, tenant_id)


@dataclass
class FakeTenants:
    store: FakeStore
    tenant_id: str

    def get(self) -> Tenant:
        return self.store.tenants_by_id[self.tenant_id]

    def update(self, *, name: str | None, escalate_after_minutes: int | None) -> Tenant:
        t = self.get()
        t = t.model_copy(
            update={
                k: v
                for k, v in {"name": name, "escalate_after_minutes": escalate_after_minutes}.items()
                if v is not None
            }
        )
        self.store.tenants_by_id[self.tenant_id] = t
        return t


@dataclass
class FakeUsers:
    store: FakeStore
    tenant_id: str

    def create(self, user: User, password_hash: str) -> User:
        if (self.tenant_id, user.email) in self.store.creds:
            raise Conflict("email taken")
        self.store.creds[(self.tenant_id, user.email)] = Cred(user.id, password_hash)
        self.store.users_by_key[(self.tenant_id, user.id)] = user
        return user

    def get(self, user_id: str, *, consistent: bool = False) -> User:
        try:
            return self.store.users_by_key[(self.tenant_id, user_id)]
        except KeyError:
            raise NotFound("user") from None

    def find(self, user_id: str) -> User | None:
        return self.store.users_by_key.get((self.tenant_id, user_id))

    def update(self, user_id, *, name=None, role=None, active=None) -> User:
        user = self.get(user_id)
        changes = {"name": name, "role": role, "active": active}
        user = user.model_copy(update={k: v for k, v in changes.items() if v is not None})
        self.store.users_by_key[(self.tenant_id, user_id)] = user
        return user

    def list(self, *, role: Role | None, limit: int, cursor: str | None) -> Page[User]:
        items = [
            u
            for (t, _), u in self.store.users_by_key.items()
            if t == self.tenant_id and (role is None or u.role is role)
        ]
        return Page[User](items=items[:limit], next_cursor=None)


@dataclass
class FakeAuth:
    store: FakeStore
    tenant_id: str

    def throttle(self, email: str) -> Throttle:
        return self.store.throttles.get((self.tenant_id, email), Throttle())

    def login_state(self, email: str) -> tuple[Cred | None, Throttle]:
        return self.store.creds.get((self.tenant_id, email)), self.throttle(email)

    def record_failure(self, email: str, *, now: datetime, window: timedelta) -> Throttle:
        t = self.throttle(email)
        if t.window_started > now.timestamp() - window.total_seconds():
            t = replace(t, failures=t.failures + 1)
        else:
            t = Throttle(failures=1, window_started=now.timestamp())
        self.store.throttles[(self.tenant_id, email)] = t
        return t

    def clear_failures(self, email: str) -> None:
        self.store.throttles.pop((self.tenant_id, email), None)

    def start_family(self, family_id, user_id, token_hash, expires) -> None:
        self.store.families[(self.tenant_id, family_id)] = Family(user_id, token_hash)

    def rotate(self, family_id, presented_hash, new_hash, expires) -> bool:
        fam = self.store.families.get((self.tenant_id, family_id))
        if fam is None or fam.revoked or fam.token_hash != presented_hash:
            return False
        fam.token_hash = new_hash
        return True

    def revoke(self, family_id: str) -> None:
        fam = self.store.families.get((self.tenant_id, family_id))
        if fam:
            fam.revoked = True
