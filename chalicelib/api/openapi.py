"""The OpenAPI 3.1 document, built from the routes' own pydantic models (``framework.ROUTES``).

Everything a client needs is in it: every operation with its roles, path parameter patterns,
query parameters, headers (``Authorization``, ``X-Tenant-Id``, ``Idempotency-Key``,
``If-None-Match``, ``X-Correlation-Id``; ``ETag``, ``Retry-After``, ``Cache-Control`` and the
CORS headers in answers), a request and response example for every body, and every error answer
in the envelope with its codes and an example. ``tests/integration/test_openapi_contract.py``
checks that it describes exactly the routes the app serves.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, get_args

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from chalicelib.api.cors import EXPOSE_HEADERS
from chalicelib.api.errors import ERROR_CODES
from chalicelib.api.framework import ROUTES, NoBody, RouteSpec
from chalicelib.models.common import ErrorEnvelope, Page

REF = "#/components/schemas/{model}"
JSON = "application/json"
_PATH_PARAM = re.compile(r"{([^}]+)}")
#: What the route pipeline accepts as a path id (anything else answers 404).
PATH_ID_PATTERN = "^[A-Za-z0-9_-]{1,64}$"
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

#: Answers the edge gives besides the app's own (unknown paths and methods, media types, and a
#: briefly unavailable service); merged under the app's own codes.
_EDGE_CODES: dict[int, list[str]] = {
    405: ["method_not_allowed"],
    415: ["unsupported_media_type"],
    503: ["service_unavailable"],
}

#: Every error answer: its component name, what it means, and an example.
_ERRORS: dict[int, tuple[str, str, str, list[dict[str, Any]]]] = {
    400: ("BadRequest", "Malformed JSON, or a cursor that was altered.", "bad_request", []),
    401: (
        "Unauthorized",
        "Missing, invalid or expired credentials; log in (or refresh) again.",
        "unauthorized",
        [],
    ),
    403: (
        "Forbidden",
        "The caller's role may not do this, or `X-Tenant-Id` names another tenant.",
        "forbidden",
        [],
    ),
    404: (
        "NotFound",
        "No such resource in the caller's tenant, or one the caller may not see (another "
        "tenant's ids answer the same). An unknown path answers this too.",
        "not_found",
        [],
    ),
    405: (
        "MethodNotAllowed",
        "The path exists but does not have this method (`Allow` lists the ones it has).",
        "method_not_allowed",
        [],
    ),
    409: ("Conflict", "The request conflicts with the current state.", "invalid_transition", []),
    413: ("PayloadTooLarge", "The body is larger than 64 KiB.", "payload_too_large", []),
    415: (
        "UnsupportedMediaType",
        "The body is not `application/json` (a `charset` parameter is fine).",
        "unsupported_media_type",
        [],
    ),
    422: (
        "ValidationError",
        "The body or query breaks the schema (unknown fields included); `details` lists each "
        "field with its problem.",
        "validation_error",
        [
            {
                "field": "admin.password",
                "problem": "String should have at least 12 characters",
                "type": "string_too_short",
            },
            {
                "field": "limit",
                "problem": "Input should be less than or equal to 100",
                "type": "less_than_equal",
                "in": "query",
            },
        ],
    ),
    429: (
        "TooManyRequests",
        "Too many failed attempts; wait `Retry-After` seconds.",
        "too_many_requests",
        [],
    ),
    500: ("InternalError", "An unexpected fault (never with internals).", "internal_error", []),
    503: (
        "ServiceUnavailable",
        "The service is briefly unable to answer; try again shortly.",
        "service_unavailable",
        [],
    ),
}
_MESSAGES = {
    400: "The request body is not valid JSON.",
    401: "A bearer access token is required.",
    403: "Your role may not do this.",
    404: "The booking does not exist.",
    405: "This path does not allow the DELETE method.",
    409: "A booking in status 'completed' cannot be approved.",
    413: "The request body is larger than 64 KiB.",
    415: "The request body must be application/json.",
    422: "The request is not valid.",
    429: "Too many failed logins for this account; try again later.",
    500: "Something went wrong on our side.",
    503: "The service is busy; try again shortly.",
}
_SUCCESS = {200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified"}

_HEADERS: dict[str, dict[str, Any]] = {
    "X-Correlation-Id": {
        "description": "The request's own `X-Correlation-Id` when it sent a well-formed one "
        "(1..128 of `A-Za-z0-9._:-`), else a new id. Quote it when reporting a problem.",
        "required": True,
        "schema": {"type": "string", "examples": ["5f0c6a53-2a8e-4b8e-9d55-3c1f0b7e9a21"]},
    },
    "Access-Control-Allow-Origin": {
        "description": "CORS: the caller's `Origin` when the stage allows it (`*` on the local "
        "stack); absent for other origins.",
        "schema": {"type": "string"},
    },
    "Access-Control-Expose-Headers": {
        "description": "CORS: the answer headers scripts may read: " + ", ".join(EXPOSE_HEADERS),
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": "The version of what was answered; send it back in `If-None-Match`.",
        "schema": {"type": "string", "examples": ['"3-1a2b3c"']},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "examples": [900]},
    },
    "Cache-Control": {
        "description": "How caches may keep the answer: `private, no-cache` for reads (a browser "
        "revalidates its copy, with `If-None-Match` where the answer has an `ETag`), `no-store` "
        "for writes; only the API description and its page are `public`.",
        "schema": {"type": "string", "examples": ["private, no-cache", "public, max-age=300"]},
    },
    "Vary": {
        "description": "`Authorization, Origin` (`Origin` alone where no token is read): a "
        "cache never hands one caller's answer to another.",
        "schema": {"type": "string", "examples": ["Authorization, Origin"]},
    },
    "Content-Security-Policy": {
        "description": "What the page may load: this API's own scripts, styles and data only.",
        "schema": {"type": "string"},
    },
    "Allow": {
        "description": "The methods the path has.",
        "schema": {"type": "string", "examples": ["GET, OPTIONS"]},
    },
}

_PARAMETERS: dict[str, dict[str, Any]] = {
    "X-Correlation-Id": {
        "name": "X-Correlation-Id",
        "in": "header",
        "required": False,
        "description": "Your id for this request (1..128 of `A-Za-z0-9._:-`): echoed in the "
        "answer and carried by every log line and audit entry the request causes. Anything "
        "else is replaced by a new id.",
        "schema": {"type": "string"},
    },
    "X-Tenant-Id": {
        "name": "X-Tenant-Id",
        "in": "header",
        "required": False,
        "description": "Optional guard: when sent it must be the token's tenant id, else 403. "
        "The tenant always comes from the token.",
        "schema": {"type": "string"},
    },
    "Idempotency-Key": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "A retry with the same key (same tenant and user) answers the first "
        "booking again and creates nothing. 1..128 printable characters. Reusing a key with a "
        "different body answers 422 (`details[0].type` = `idempotency_key_reused`).",
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": 128,
            "pattern": "^[\\x21-\\x7e]([\\x20-\\x7e]*[\\x21-\\x7e])?$",
            "examples": ["b7e2c1d0-booking-1"],
        },
    },
    "If-None-Match": {
        "name": "If-None-Match",
        "in": "header",
        "required": False,
        "description": "The `ETag` of the copy you hold: 304 without a body when it is current.",
        "schema": {"type": "string"},
    },
}

_TAGS = [
    ("meta", "Health, this document and its HTML page (no token needed)."),
    ("tenants", "Organisations: self-service sign-up and settings."),
    ("auth", "Login, token refresh and logout (no access token needed)."),
    ("users", "People of the caller's organisation and their roles."),
    ("courses", "The catalog: courses, their modules and lessons."),
    ("bookings", "Sessions students request and admins approve, assign and close."),
    ("audit", "Every change to the organisation's data, newest first (admin)."),
]

_DESCRIPTION = """\
Multi-tenant tutoring platform. The guides in the repository's `docs/` folder explain each area
with a `curl` example for every operation; this document is their exact, machine-readable form.

* **Auth**: send `Authorization: Bearer <access_token>` (from `POST /auth/login`) to every
  operation marked with a lock. The tenant and role come from the token.
* **Errors** use one envelope, `{"error": {"code", "message", "details"}}`; `details` lists each
  invalid field as `{field, problem, type, in?}`. An unknown path answers 404 `not_found` and a
  method a path does not have answers 405 `method_not_allowed` (see the `NotFound` and
  `MethodNotAllowed` responses); a body that is not `application/json` answers 415.
* **Correlation**: every answer carries `X-Correlation-Id`.
* **Caching**: tenant data answers `Cache-Control: private, no-cache` with
  `Vary: Authorization, Origin` (writes: `no-store`), so no shared cache keeps it and browsers
  revalidate; `GET /courses/{course_id}` answers 304 to a current `If-None-Match`. The API
  description and `/docs` are `public, max-age=300` with an `ETag`.
* **Pagination**: list operations take `limit` (1..100, default 20) and `cursor`, and answer
  `{"items": [...], "next_cursor": "<opaque>" | null}`.
* **CORS**: every path answers the preflight `OPTIONS`; allowed origins come from the stage's
  configuration; `X-Correlation-Id`, `ETag` and `Retry-After` are exposed to scripts.
"""


class _Names(GenerateJsonSchema):
    """Schema names a generated client can use: ``UserPage`` rather than ``Page_User_``."""

    def normalize_name(self, name: str) -> str:
        page = re.fullmatch(r"Page\[(?:[\w.]+\.)?(\w+)\]", name)
        return f"{page.group(1)}Page" if page else super().normalize_name(name)


def _clean(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema without the ``null`` branch (leaving it out means null)."""
    options = schema.get("anyOf")
    if options:
        kept = [s for s in options if s.get("type") != "null"]
        if len(kept) == 1:
            schema = {**{k: v for k, v in schema.items() if k != "anyOf"}, **kept[0]}
    return {k: v for k, v in schema.items() if k not in ("title",) and v is not None}


def _query_parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    for name, sub in schema.get("$defs", {}).items():
        schemas.setdefault(name, sub)
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        param: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": _clean(prop),
        }
        if "description" in prop:
            param["description"] = prop["description"]
        out.append(param)
    return out


def example_of(model: Any) -> Any:
    """The first example a response or request model declares (a page's is built from its
    item's)."""
    if isinstance(model, type) and issubclass(model, Page):
        (item,) = get_args(model.model_fields["items"].annotation)
        return {"items": [example_of(item)], "next_cursor": None}
    is_model = isinstance(model, type) and issubclass(model, BaseModel)
    extra = model.model_config.get("json_schema_extra") if is_model else None
    if isinstance(extra, dict) and extra.get("examples"):
        return extra["examples"][0]
    return None


def _error_statuses(spec: RouteSpec) -> list[int]:
    statuses = set(spec.errors) | {500, 503}
    if spec.auth:
        statuses |= {401, 403}
    if spec.method in _BODY_METHODS:  # a write that sends a Content-Type must send JSON
        statuses |= {400, 413, 415, 422}
    if spec.query is not None:
        statuses |= {400, 422}
    if "{" in spec.path:
        statuses.add(404)
    return sorted(statuses)


def _answer_headers(*extra: str) -> dict[str, Any]:
    names = (
        "X-Correlation-Id",
        "Cache-Control",
        "Vary",
        "Access-Control-Allow-Origin",
        "Access-Control-Expose-Headers",
    )
    return {name: {"$ref": f"#/components/headers/{name}"} for name in (*names, *extra)}


def _error_components(envelope_ref: dict[str, Any]) -> dict[str, Any]:
    codes = {**_EDGE_CODES, **ERROR_CODES}
    out: dict[str, Any] = {}
    for status, (name, meaning, code, details) in _ERRORS.items():
        extra = ("Retry-After",) if status == 429 else ("Allow",) if status == 405 else ()
        out[name] = {
            "description": f"{meaning} Codes: " + ", ".join(f"`{c}`" for c in codes[status]) + ".",
            "headers": _answer_headers(*extra),
            "content": {
                JSON: {
                    "schema": envelope_ref,
                    "example": {
                        "error": {"code": code, "message": _MESSAGES[status], "details": details}
                    },
                }
            },
        }
    return out


def _description(spec: RouteSpec) -> str:
    if not spec.auth:
        return "No token needed."
    if spec.roles:
        return "Roles: " + ", ".join(spec.roles) + "."
    return "Roles: every role (admin, instructor, student)."


def _operation(spec: RouteSpec, keys: dict[Any, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": spec.operation_id,
        "summary": spec.summary,
        "description": _description(spec),
        "tags": [spec.tag],
        "parameters": [],
        "responses": {},
        "security": [{"bearerAuth": []}] if spec.auth else [],
    }
    for name in _PATH_PARAM.findall(spec.path):
        op["parameters"].append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": f"The {name.removesuffix('_id')}'s id.",
                "schema": {"type": "string", "pattern": PATH_ID_PATTERN},
            }
        )
        if spec.path_pattern is not None:  # a route's own segment (a feed's `<token>.ics`)
            op["parameters"][-1]["schema"]["pattern"] = f"^{spec.path_pattern.pattern}$"
    if spec.query is not None:
        op["parameters"].extend(_query_parameters(spec.query, schemas))
    headers = ["X-Correlation-Id", *(["X-Tenant-Id"] if spec.auth else []), *spec.request_headers]
    op["parameters"].extend({"$ref": f"#/components/parameters/{h}"} for h in headers)
    if spec.body is not None:
        body_schema = keys[(spec.body, "validation")]
        op["requestBody"] = {
            # The server reads an empty body as {}: a body whose fields are all optional may
            # be left out.
            "required": bool(spec.body.model_json_schema().get("required")),
            "content": {JSON: {"schema": body_schema, "example": example_of(spec.body)}},
        }
    elif spec.method == "POST":
        op["requestBody"] = {
            "required": False,
            "description": "No body, or an empty JSON object.",
            "content": {JSON: {"schema": {"$ref": REF.format(model="NoBody")}, "example": {}}},
        }
    ok: dict[str, Any] = {
        "description": _SUCCESS.get(spec.status, "OK"),
        "headers": _answer_headers(*spec.response_headers),
    }
    if spec.status not in (204, 304):
        if spec.media_type != JSON:
            ok["content"] = {spec.media_type: {"schema": {"type": "string"}}}
        elif spec.response is not None:
            content = {"schema": keys[(spec.response, "serialization")]}
            example = example_of(spec.response)
            if example is not None:
                content["example"] = example
            ok["content"] = {JSON: content}
    op["responses"][str(spec.status)] = ok
    if "If-None-Match" in spec.request_headers:
        op["responses"]["304"] = {
            "description": "Not Modified: the copy named by `If-None-Match` is current.",
            "headers": _answer_headers(*spec.response_headers),
        }
    for status in _error_statuses(spec):
        op["responses"][str(status)] = {"$ref": f"#/components/responses/{_ERRORS[status][0]}"}
    if spec.path == "/health":  # a degraded service answers 503 with the health document
        op["responses"]["503"] = {**ok, "description": "Degraded: a check failed."}
    return op


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    models: list[tuple[Any, Any]] = [(ErrorEnvelope, "serialization"), (NoBody, "validation")]
    for spec in ROUTES:
        if spec.body is not None:
            models.append((spec.body, "validation"))
        if spec.response is not None and spec.media_type == JSON:
            models.append((spec.response, "serialization"))
    keys, defs = models_json_schema(models, ref_template=REF, schema_generator=_Names)
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for spec in ROUTES:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, keys, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "tutorbook API", "version": "1.0.0", "description": _DESCRIPTION},
        # Relative to where this document is served, so the stage prefix of an API Gateway
        # URL (``/dev/openapi.json``) carries over to the operations.
        "servers": [{"url": ".", "description": "this API"}],
        "tags": [{"name": name, "description": text} for name, text in _TAGS],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": _error_components(keys[(ErrorEnvelope, "serialization")]),
            "parameters": _PARAMETERS,
            "headers": _HEADERS,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "The `access_token` of `POST /auth/login` (15 minutes; "
                    "renew it with `POST /auth/refresh`).",
                }
            },
        },
    }
