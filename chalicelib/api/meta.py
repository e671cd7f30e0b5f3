"""Health and the API description."""

from __future__ import annotations

from chalicelib.api.framework import Api, Reply, Request
from chalicelib.models.common import Out

api = Api(__name__, tag="meta")


class Health(Out):
    status: str = "ok"


class OpenApiDocument(Out):
    """The OpenAPI 3.1 document (free-form JSON)."""

    model_config = {"extra": "allow"}


@api.route("/health", auth=False, response=Health)
def health(req: Request) -> Health:
    """Liveness: the function answers."""
    return Health()


@api.route("/openapi.json", auth=False, response=OpenApiDocument)
def openapi(req: Request) -> Reply:
    """This API's OpenAPI 3.1 document."""
    from chalicelib.api.openapi import document

    return Reply(body=OpenApiDocument.model_validate(document()))
