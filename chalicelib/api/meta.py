"""Health and the API description."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.api.framework import Api, Reply, Request
from chalicelib.db.base import probe
from chalicelib.db.store import default_store
from chalicelib.models.common import Out
from chalicelib.services.health import HealthService

api = Api(__name__, tag="meta")


class Health(Out):
    """``ok`` when every check passes, else ``degraded`` (answered 503), with each check."""

    status: Literal["ok", "degraded"] = "ok"
    checks: dict[str, Literal["ok", "unavailable"]] = Field(
        default_factory=dict, examples=[{"dynamodb": "ok"}]
    )


class OpenApiDocument(Out):
    """The OpenAPI 3.1 document (free-form JSON)."""

    model_config = {"extra": "allow"}


@api.route("/health", auth=False, response=Health)
def health(req: Request) -> Reply:
    """Health: the function answers; `checks` says whether the database does (503 if not)."""
    store = default_store()
    report = HealthService({"dynamodb": probe}, clock=store.clock).report()
    body = Health(status="ok" if report.healthy else "degraded", checks=report.checks)
    return Reply(body=body, status=200 if report.healthy else 503)


@api.route("/openapi.json", auth=False, response=OpenApiDocument)
def openapi(req: Request) -> Reply:
    """This API's OpenAPI 3.1 document."""
    from chalicelib.api.openapi import document

    return Reply(body=OpenApiDocument.model_validate(document()))
