"""The audit trail of the caller's tenant (read-only: no route writes or deletes it)."""

from __future__ import annotations

from chalicelib.api.framework import Api, Request
from chalicelib.db.store import default_store
from chalicelib.models.audit import AuditEntry, AuditQuery
from chalicelib.models.common import Page
from chalicelib.models.users import Role
from chalicelib.services.audit import AuditService

api = Api(__name__, tag="audit")


@api.route("/audit", query=AuditQuery, response=Page[AuditEntry], roles=(Role.admin,))
def list_audit(req: Request, query: AuditQuery) -> Page[AuditEntry]:
    """Audit entries of the tenant, newest first (admin); filter by entity type and id."""
    return AuditService(req.user, default_store().audit(req.user.tenant_id)).list(query)
