"""The route pipeline every endpoint goes through.

One decorator, in this order: correlation id and per-request log keys, authentication (the
token, then the user's current role and status) and the role gate (``authentication.py``),
path ids, body size limit, media type, JSON parsing, pydantic validation of body and query,
the handler, response serialisation, error mapping to the envelope (``errors.py``; an
unreachable database is a 503), CORS headers (``cors.py``), the caching headers, and the route's
OpenAPI entry (``ROUTES``). A route handler parses nothing, calls one service and returns a model.

Writes (every method but GET) and admin-only routes read the caller's role and status fresh;
other reads may use a copy at most ``access_cache_seconds`` old (``services/access.py``).

Caching: an answer that names no ``Cache-Control`` of its own (only the public API description
and its page do) is ``private, no-cache`` for reads (a browser keeps it but revalidates it, with
its ``ETag`` where it has one; no shared cache keeps it) and ``no-store`` for writes (tokens
among them). Every answer varies on ``Origin`` (its CORS headers), and every answer of a route
that reads a token on ``Authorization`` too: no cache can hand one caller's (or tenant's) answer
to another.
"""

from __future__ import annotations

import functools
import ipaddress
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
from chalicelib.api.errors import error_response, fault_response, validation_details
from chalicelib.config import get_settings
from chalicelib.context import Caller
from chalicelib.errors import (
    BadRequest,
    DomainError,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
)
from chalicelib.models.common import StrictModel
from chalicelib.models.users import Role
from chalicelib.observability import logger

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CORRELATION = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_JSON = "application/json"
_UTF8 = {"utf-8", "utf8"}
#: Log keys of one request (kept per thread: the local stack serves requests on threads).
_REQUEST_LOG_KEYS = ("correlation_id", "route", "tenant_id", "user_id")
PRIVATE_READ = "private, no-cache"
PRIVATE_WRITE = "no-store"


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
    #: What each path parameter must match (else 404); ``None``: an id (``_ID``).
    path_pattern: re.Pattern[str] | None = None


#: Every route of the app, in registration order: the source of the OpenAPI document.
ROUTES: list[RouteSpec] = []


@dataclass
class Request:
    """What a handler receives besides its path parameters, body and query."""

    caller: Caller | None
    correlation_id: str
    headers: dict[str, str]
    #: The caller's network address (API Gateway's source IP; the local stack's peer).
    client_ip: str = "unknown"

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
        path_pattern: re.Pattern[str] | None = None,
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
                path_pattern=path_pattern,
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


def _client_ip(request: Any) -> str:
    """API Gateway's ``requestContext.identity.sourceIp``, when it is an IP address."""
    identity = (getattr(request, "context", None) or {}).get("identity") or {}
    try:
        return str(ipaddress.ip_address(str(identity.get("sourceIp", ""))))
    except ValueError:
        return "unknown"


def _check_media_type(spec: RouteSpec, headers: dict[str, str], raw: bytes) -> None:
    """A write that sends a body, or names its type, sends JSON (a UTF-8 charset may be named):
    cross-site "simple" form posts (form-encoded, multipart, text/plain) never reach a route."""
    if spec.method not in _BODY_METHODS:
        return
    content_type = headers.get("content-type")
    if content_type is None and not raw.strip():
        return
    media, _, params = (content_type or "").partition(";")
    charsets = {
        value.strip().strip('"').lower()
        for name, _, value in (p.partition("=") for p in params.split(";"))
        if name.strip().lower() == "charset"
    }
    if media.strip().lower() != _JSON or not charsets <= _UTF8:
        raise UnsupportedMediaType(
            "The request body must be JSON (Content-Type: application/json)."
        )


def _parse_json(raw: bytes) -> Any:
    """The body as JSON: UTF-8 only, no lone surrogates, nesting only as deep as the parser
    goes (deeper is a 400 like any other malformed body)."""
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw.decode("utf-8"))
        json.dumps(data, ensure_ascii=False).encode("utf-8")  # lone surrogates ("\ud800") fail
    except (ValueError, UnicodeError, RecursionError) as exc:
        raise BadRequest("The request body is not valid JSON.") from exc
    return data


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
        except Exception as exc:  # noqa: BLE001 - the edge: nothing unexpected may reach a client
            response = fault_response(exc)
        response.headers["X-Correlation-Id"] = correlation_id
        response.headers.update(cors_headers(headers.get("origin")))
        _cache_headers(spec, response)
        logger.info("request", extra={"status": response.status_code})
        return response
    finally:
        logger.thread_safe_remove_keys(_REQUEST_LOG_KEYS)


def _cache_headers(spec: RouteSpec, response: Response) -> None:
    headers = response.headers
    if "Cache-Control" not in headers:
        read = spec.method in ("GET", "HEAD")
        headers["Cache-Control"] = PRIVATE_READ if read else PRIVATE_WRITE
    headers["Vary"] = "Authorization, Origin" if spec.auth else "Origin"


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
        caller = authenticate(headers, correlation_id, fresh=_needs_fresh_access(spec))
        logger.thread_safe_append_keys(tenant_id=caller.tenant_id, user_id=caller.user_id)
        require_role(caller, spec.roles)
    for value in path_params.values():
        if not (spec.path_pattern or _ID).fullmatch(value or ""):
            raise NotFound()
    kwargs: dict[str, Any] = dict(path_params)
    raw = _raw_body(request)
    if len(raw) > get_settings().max_body_bytes:
        raise PayloadTooLarge("The request body is larger than 64 KiB.")
    _check_media_type(spec, headers, raw)
    if spec.body is not None:
        kwargs["body"] = _validate(spec.body, _parse_json(raw), "body")
    elif spec.method in _BODY_METHODS and raw.strip():
        _validate(NoBody, _parse_json(raw), "body")
    if spec.query is not None:
        kwargs["query"] = _validate(spec.query, dict(request.query_params or {}), "query")
    req = Request(
        caller=caller,
        correlation_id=correlation_id,
        headers=headers,
        client_ip=_client_ip(request),
    )
    return _respond(spec, fn(req, **kwargs))


def _needs_fresh_access(spec: RouteSpec) -> bool:
    """Writes and admin-only routes act on the caller's role and status as they are now."""
    return spec.method not in ("GET", "HEAD") or set(spec.roles) == {Role.admin}
