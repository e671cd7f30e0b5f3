"""Organisation sign-up and settings."""

from __future__ import annotations

from chalicelib.api.framework import Api, Request
from chalicelib.db.store import default_store
from chalicelib.models.tenants import SignUpIn, SignUpOut, Tenant, TenantPatchIn
from chalicelib.services.tenants import TenantService

api = Api(__name__, tag="tenants")


@api.route(
    "/tenants", "POST", auth=False, body=SignUpIn, response=SignUpOut, status=201, errors=(409,)
)
def sign_up(req: Request, body: SignUpIn) -> SignUpOut:
    """Sign up an organisation with its first admin; answers that admin's tokens."""
    return TenantService(default_store()).sign_up(body, req.correlation_id)


@api.route("/tenants/me", response=Tenant)
def get_tenant(req: Request) -> Tenant:
    """The caller's organisation."""
    return TenantService(default_store()).get(req.user)


@api.route(
    "/tenants/me", "PATCH", body=TenantPatchIn, response=Tenant, roles=("admin",), errors=(409,)
)
def update_tenant(req: Request, body: TenantPatchIn) -> Tenant:
    """Change the organisation's name or escalation delay (admin)."""
    return TenantService(default_store()).update(req.user, body)
