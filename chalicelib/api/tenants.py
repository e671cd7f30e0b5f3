"""Organisation sign-up and settings."""

from __future__ import annotations

from chalicelib.api.framework import Api, Request
from chalicelib.db.store import default_store
from chalicelib.models.tenants import SignUpIn, SignUpOut, Tenant, TenantPatchIn
from chalicelib.models.users import Role
from chalicelib.services.tenants import SignUpService, TenantService

api = Api(__name__, tag="tenants")


def _service(req: Request) -> TenantService:
    store = default_store()
    repo = store.tenants(req.user.tenant_id, req.user.actor)
    return TenantService(req.user, repo, clock=store.clock)


@api.route(
    "/tenants", "POST", auth=False, body=SignUpIn, response=SignUpOut, status=201, errors=(409,)
)
def sign_up(req: Request, body: SignUpIn) -> SignUpOut:
    """Sign up an organisation with its first admin; answers that admin's tokens."""
    store = default_store()
    return SignUpService(store, correlation_id=req.correlation_id, clock=store.clock).sign_up(body)


@api.route("/tenants/me", response=Tenant)
def get_tenant(req: Request) -> Tenant:
    """The caller's organisation."""
    return _service(req).get()


@api.route(
    "/tenants/me", "PATCH", body=TenantPatchIn, response=Tenant, roles=(Role.admin,), errors=(409,)
)
def update_tenant(req: Request, body: TenantPatchIn) -> Tenant:
    """Change the organisation's name or escalation delay (admin)."""
    return _service(req).update(body)
