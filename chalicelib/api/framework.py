"""The route pipeline every endpoint goes through.

One decorator, in this order: correlation id and per-request log keys, authentication and the
role gate (``authentication.py``), path ids, body size limit, JSON parsing, pydantic validation
of body and query, the handler, response serialisation, error mapping to the envelope
(``errors.py``), CORS headers (``cors.py``), and the route's OpenAPI entry (``ROUTES``).
A route handler parses nothing, calls one service and returns a model.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalice.app import Blueprint, Response
from pydantic import BaseModel, ValidationError

from chalicelib.api.authentication import authenticate, require_role
from chalicelib.api.cors import add_preflight, cors_headers, has_preflight
from chalicelib.api.errors import error_response, internal_error_response, validation_details
from chalicelib.config import get_settings
from chalicelib.context import Caller
from chalicelib.errors import (
    BadRequest,
    DomainError,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    ValidationFailed,
)
from chalicelib.models.common import StrictModel
from chalicelib.models.users import Role
from chalicelib.observability import logger

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CORRELATION = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
#: Log keys of one request (kept per thread: the local stack serves requests on threads).
_REQUEST_LOG_KEYS = ("correlation_id", "route", "tenant_id", "user_id")


class NoBody(StrictModel):
    """Routes without a body accept none, or an empty JSON object."""


@dataclass(frozen=True)
class RouteSpec:
    path: str
    method: str
    operation_id: str
    summary: str
    tag: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: Any
    status: int
    auth: bool
    roles: tuple[Role, ...]
    errors: tuple[int, ...]
    request_headers: tuple[str, ...]
    response_headers: tuple[str, ...]
    media_type: str = "application/json"


#: Every route of the app, in registration order: the source of the OpenAPI document.
ROUTES: list[RouteSpec] = []


@dataclass
class Request:
    """What a handler receives besides its path parameters, body and query."""

    caller: Caller | None
    correlation_id: str
    headers: dict[str, str]

    @property
    def user(self) -> Caller:
        if self.caller is None:  # pragma: no cover - only on routes declared auth=False
            raise Unauthorized("Authentication is required.")
        return self.caller


@dataclass
class Reply:
    """A handler's answer when it needs a status or headers other than the route's default."""

    body: BaseModel | str | None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class Api:
    """A Chalice blueprint whose routes go through :func:`_dispatch`."""

    def __init__(self, import_name: str, tag: str) -> None:
        self.blueprint = Blueprint(import_name)
        self.tag = tag

    def route(
        self,
        path: str,
        method: str = "GET",
        *,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: Any = None,
        status: int = 200,
        auth: bool = True,
        roles: tuple[Role, ...] = (),
        errors: tuple[int, ...] = (),
        request_headers: tuple[str, ...] = (),
        response_headers: tuple[str, ...] = (),
        summary: str | None = None,
        media_type: str = "application/json",
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            spec = RouteSpec(
                path=path,
                method=method.upper(),
                operation_id=fn.__name__,
                summary=summary or (fn.__doc__ or fn.__name__).strip().splitlines()[0],
                tag=self.tag,
                body=body,
                query=query,
                response=response,
                status=status,
                auth=auth,
                roles=roles,
                errors=errors,
                request_headers=request_headers,
                response_headers=response_headers,
                media_type=media_type,
            )
            ROUTES.append(spec)

            @functools.wraps(fn)
            def view(**path_params: str) -> Response:
                return _dispatch(spec, fn, self.blueprint.current_request, path_params)

            self.blueprint.route(path, methods=[spec.method], content_types=["*/*"])(view)
            if not has_preflight(path):
                add_preflight(self.blueprint, path, lambda: _methods_of(path))
            return fn

        return decorate


def _methods_of(path: str) -> list[str]:
    return [spec.method for spec in ROUTES if spec.path == path]


def _correlation_id(value: str | None) -> str:
    if value and _CORRELATION.fullmatch(value):
        return value
    return str(uuid.uuid4())


def _raw_body(request: Any) -> bytes:
    raw = request.raw_body or b""
    return raw if isinstance(raw, bytes) else str(raw).encode()


def _parse_json(raw: bytes) -> Any:
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("The request body is not valid JSON.") from exc


def _validate(model: type[BaseModel], data: Any, where: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = validation_details(exc.errors())
        if where != "body":
            for d in details:
                d["in"] = where
        raise ValidationFailed("The request is not valid.", details=details) from exc


def _respond(spec: RouteSpec, result: Any) -> Response:
    headers: dict[str, str | list[str]] = {}
    if isinstance(result, Reply):
        status, payload = result.status, result.body
        headers.update(result.headers)
    else:
        status, payload = spec.status, result
    if payload is None or status in (204, 304):
        return Response(body="", status_code=status, headers=headers)
    headers.setdefault("Content-Type", spec.media_type)
    if isinstance(payload, str):
        return Response(body=payload, status_code=status, headers=headers)
    text = payload.model_dump_json() if isinstance(payload, BaseModel) else json.dumps(payload)
    return Response(body=text, status_code=status, headers=headers)


def _dispatch(
    spec: RouteSpec, fn: Callable[..., Any], request: Any, path_params: dict[str, str]
) -> Response:
    headers = {k.lower(): v for k, v in (request.headers or {}).items()}
    correlation_id = _correlation_id(headers.get("x-correlation-id"))
    logger.thread_safe_append_keys(
        correlation_id=correlation_id, route=f"{spec.method} {spec.path}"
    )
    try:
        try:
            response = _handle(spec, fn, request, headers, correlation_id, path_params)
        except DomainError as exc:
            response = error_response(exc)
        except Exception:  # noqa: BLE001 - the edge: nothing unexpected may reach a client
            logger.exception("unhandled error")
            response = internal_error_response()
        response.headers["X-Correlation-Id"] = correlation_id
        response.headers.update(cors_headers(headers.get("origin")))
        logger.info("request", extra={"status": response.status_code})
        return response
    finally:
        logger.thread_safe_remove_keys(_REQUEST_LOG_KEYS)


def _handle(
    spec: RouteSpec,
    fn: Callable[..., Any],
    request: Any,
    headers: dict[str, str],
    correlation_id: str,
    path_params: dict[str, str],
) -> Response:
    caller: Caller | None = None
    if spec.auth:
        caller = authenticate(headers, correlation_id)
        logger.thread_safe_append_keys(tenant_id=caller.tenant_id, user_id=caller.user_id)
        require_role(caller, spec.roles)
    for value in path_params.values():
        if not _ID.fullmatch(value or ""):
            raise NotFound()
    kwargs: dict[str, Any] = dict(path_params)
    raw = _raw_body(request)
    if len(raw) > get_settings().max_body_bytes:
        raise PayloadTooLarge("The request body is larger than 64 KiB.")
    if spec.body is not None:
        kwargs["body"] = _validate(spec.body, _parse_json(raw), "body")
    elif spec.method in _BODY_METHODS and raw.strip():
        _validate(NoBody, _parse_json(raw), "body")
    if spec.query is not None:
        kwargs["query"] = _validate(spec.query, dict(request.query_params or {}), "query")
    result = fn(Request(caller=caller, correlation_id=correlation_id, headers=headers), **kwargs)
    return _respond(spec, result)
