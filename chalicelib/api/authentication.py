"""Who is calling: the bearer access token, verified in the app (no authorizer Lambda), the
user's current role and status (``services/access.py``), and the route's role gate. Failures
are domain errors, so they answer in the error envelope."""

from __future__ import annotations

from collections.abc import Collection

from chalicelib.auth.tokens import verify_access
from chalicelib.context import Caller
from chalicelib.db.store import default_store
from chalicelib.errors import Forbidden, Unauthorized
from chalicelib.models.users import Role
from chalicelib.services.access import AccessService


def authenticate(headers: dict[str, str], correlation_id: str, *, fresh: bool) -> Caller:
    """The caller named by ``Authorization: Bearer <access token>`` (headers lower-cased), with
    the role its user has now (read strongly consistently when ``fresh``).

    An ``X-Tenant-Id`` header, when sent, must name the token's tenant.
    """
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("A bearer access token is required.")
    principal = verify_access(token.strip())
    tenant_header = headers.get("x-tenant-id")
    if tenant_header is not None and tenant_header != principal.tenant_id:
        raise Forbidden("X-Tenant-Id does not match the token's tenant.")
    store = default_store()
    service = AccessService(store, clock=store.clock)
    return service.caller(principal, correlation_id=correlation_id, fresh=fresh)


def require_role(caller: Caller, roles: Collection[Role]) -> None:
    """The route's role gate (no roles: every authenticated caller)."""
    if roles and caller.role not in roles:
        raise Forbidden("Your role may not do this.")
