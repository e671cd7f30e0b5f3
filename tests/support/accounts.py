"""Tenants and people for tests.

Two ways to make them:

* through HTTP (:func:`sign_up`, :func:`add_user`, :func:`login`) where sign-up, user creation
  or login is what the test is about;
* straight through the data layer (:func:`new_tenant`, :func:`new_user`, :func:`token_for`)
  everywhere else: the same items the routes write, without an Argon2 hash per user (one hash
  of :data:`PASSWORD` serves every test user) and with access tokens minted, not logged in for.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from tests.support.http import Api

PASSWORD = "correct horse battery staple"


@dataclass
class TenantLogin:
    """A tenant, its first admin and the admin's tokens."""

    tenant: dict[str, Any]
    admin: dict[str, Any]
    token: str
    refresh: str
    slug: str


# --- through HTTP ---------------------------------------------------------------------------------
def sign_up(api: Api, slug: str, email: str = "admin@example.com") -> TenantLogin:
    r = api.post(
        "/tenants",
        {
            "name": f"Org {slug}",
            "slug": slug,
            "admin": {"email": email, "name": "Ada Admin", "password": PASSWORD},
        },
    )
    assert r.status == 201, r.body
    data = r.json
    return TenantLogin(
        tenant=data["tenant"],
        admin=data["user"],
        token=data["tokens"]["access_token"],
        refresh=data["tokens"]["refresh_token"],
        slug=slug,
    )


def add_user(
    api: Api, admin_token: str, email: str, role: str, name: str = "Someone"
) -> dict[str, Any]:
    r = api.post(
        "/users",
        {"email": email, "name": name, "role": role, "password": PASSWORD},
        token=admin_token,
    )
    assert r.status == 201, r.body
    return dict(r.json)


def login(api: Api, slug: str, email: str, password: str = PASSWORD) -> dict[str, Any]:
    r = api.post("/auth/login", {"tenant": slug, "email": email, "password": password})
    assert r.status == 200, r.body
    return dict(r.json)


# --- straight through the data layer --------------------------------------------------------------
@lru_cache(maxsize=1)
def password_hash() -> str:
    """The Argon2 hash of :data:`PASSWORD`, computed once per test process."""
    from chalicelib.auth.passwords import hash_password

    return hash_password(PASSWORD)


def new_tenant(slug: str, email: str = "admin@example.com") -> TenantLogin:
    """What ``POST /tenants`` stores (slug, tenant, admin, credential) plus a login."""
    from chalicelib.clock import utcnow
    from chalicelib.config import get_settings
    from chalicelib.context import Actor
    from chalicelib.db.store import default_store
    from chalicelib.ids import new_id
    from chalicelib.models.tenants import Tenant
    from chalicelib.models.users import Access, Role, User
    from chalicelib.services.auth import AuthService

    now = utcnow()
    tenant = Tenant(
        id=new_id(),
        slug=slug,
        name=f"Org {slug}",
        escalate_after_minutes=get_settings().default_escalate_after_minutes,
        created_at=now,
    )
    admin = User(
        id=new_id(),
        tenant_id=tenant.id,
        email=email,
        name="Ada Admin",
        role=Role.admin,
        active=True,
        created_at=now,
    )
    store = default_store()
    store.create_tenant_with_admin(
        tenant, admin, password_hash(), Actor(user_id=admin.id, correlation_id=None)
    )
    access = Access(role=Role.admin, active=True, auth_version=0)
    tokens = AuthService(store, correlation_id=None).issue(admin.id, tenant.id, access, now=now)
    return TenantLogin(
        tenant=tenant.model_dump(mode="json"),
        admin=admin.model_dump(mode="json"),
        token=tokens.access_token,
        refresh=tokens.refresh_token,
        slug=slug,
    )


def new_user(tenant: TenantLogin, email: str, role: str, name: str = "Someone") -> dict[str, Any]:
    """What ``POST /users`` stores, made by ``tenant``'s admin; answers the User JSON."""
    from chalicelib.clock import utcnow
    from chalicelib.context import Actor
    from chalicelib.db.store import default_store
    from chalicelib.ids import new_id
    from chalicelib.models.users import Role, User

    tenant_id = tenant.tenant["id"]
    user = User(
        id=new_id(),
        tenant_id=tenant_id,
        email=email,
        name=name,
        role=Role(role),
        active=True,
        created_at=utcnow(),
    )
    actor = Actor(user_id=tenant.admin["id"], correlation_id=None)
    default_store().users(tenant_id, actor).create(user, password_hash())
    return user.model_dump(mode="json")


def token_for(user: dict[str, Any]) -> str:
    """An access token for ``user`` (its JSON), as a login would issue it."""
    from chalicelib.auth.tokens import issue_access
    from chalicelib.clock import utcnow
    from chalicelib.models.users import Role

    return issue_access(user["id"], user["tenant_id"], Role(user["role"]), utcnow())
