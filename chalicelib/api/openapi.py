"""The OpenAPI 3.1 document, built from the routes' own pydantic models (``framework.ROUTES``)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.api.errors import ERROR_CODES
from chalicelib.api.framework import ROUTES, RouteSpec
from chalicelib.models.common import ErrorEnvelope

REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"{([^}]+)}")
_DESCRIPTIONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    304: "Not Modified",
    400: "Malformed JSON or a tampered cursor",
    401: "Missing, invalid or expired credentials",
    403: "The caller's role or tenant may not do this",
    404: "Not found (also: another tenant's, or not visible to the caller)",
    409: "Conflict with the current state",
    413: "Body over 64 KiB",
    415: "The body is not JSON (Content-Type must be application/json)",
    422: "Schema violation; details list each field",
    429: "Too many requests; see Retry-After",
    500: "Unexpected fault",
    503: "The database cannot be reached right now; see Retry-After",
}


def _error_statuses(spec: RouteSpec) -> list[int]:
    statuses = set(spec.errors) | {500, 503}
    if spec.auth:
        statuses |= {401, 403}
    if spec.body is not None or spec.method in {"POST", "PATCH", "PUT", "DELETE"}:
        statuses |= {400, 413, 415, 422}
    if spec.query is not None:
        statuses |= {400, 422}
    if "{" in spec.path:
        statuses.add(404)
    return sorted(statuses)


def _query_parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    for name, sub in schema.get("$defs", {}).items():
        schemas.setdefault(name, sub)
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    models: list[tuple[Any, Any]] = [(ErrorEnvelope, "serialization")]
    for spec in ROUTES:
        if spec.body is not None:
            models.append((spec.body, "validation"))
        if spec.response is not None:
            models.append((spec.response, "serialization"))
    keys, defs = models_json_schema(models, ref_template=REF)
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for spec in ROUTES:
        op: dict[str, Any] = {
            "operationId": spec.operation_id,
            "summary": spec.summary,
            "tags": [spec.tag],
            "parameters": [],
            "responses": {},
        }
        if spec.auth:
            op["security"] = [{"bearerAuth": []}]
            if spec.roles:
                op["description"] = "Roles: " + ", ".join(spec.roles) + "."
        else:
            op["security"] = []
        for name in _PATH_PARAM.findall(spec.path):
            op["parameters"].append(
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            )
        if spec.query is not None:
            op["parameters"].extend(_query_parameters(spec.query, schemas))
        for header in ("X-Correlation-Id", *spec.request_headers):
            op["parameters"].append(
                {"name": header, "in": "header", "required": False, "schema": {"type": "string"}}
            )
        if spec.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": keys[(spec.body, "validation")]}},
            }
        headers = {"X-Correlation-Id": {"schema": {"type": "string"}}}
        for header in spec.response_headers:
            headers[header] = {"schema": {"type": "string"}}
        ok: dict[str, Any] = {
            "description": _DESCRIPTIONS.get(spec.status, "OK"),
            "headers": headers,
        }
        if spec.response is not None and spec.status != 204:
            ok["content"] = {"application/json": {"schema": keys[(spec.response, "serialization")]}}
        op["responses"][str(spec.status)] = ok
        if "If-None-Match" in spec.request_headers:
            op["responses"]["304"] = {"description": _DESCRIPTIONS[304], "headers": headers}
        error_schema = keys[(ErrorEnvelope, "serialization")]
        for status in _error_statuses(spec):
            op["responses"][str(status)] = {
                "description": _DESCRIPTIONS[status]
                + " (codes: "
                + ", ".join(ERROR_CODES[status])
                + ")",
                "headers": headers,
                "content": {"application/json": {"schema": error_schema}},
            }
        if spec.path == "/health":  # a degraded service answers 503 with the health document
            op["responses"]["503"] = {**ok, "description": "Degraded: a check failed"}
        paths.setdefault(spec.path, {})[spec.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tutorbook API",
            "version": "1.0.0",
            "description": "Multi-tenant tutoring platform. Errors use the envelope "
            '`{"error": {"code", "message", "details"}}`.',
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
