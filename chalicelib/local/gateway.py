"""The local API server's gateway: unknown paths and methods answer as they do on AWS.

Chalice's local gateway answers an unknown path with API Gateway's bare 403
``{"message": "Missing Authentication Token"}`` and a method a path does not have with a bare
405. On AWS the stack's gateway responses and per-path 405 answers (``infra/deploy.json``,
``scripts/package.py``) put both in the error envelope; this gateway does the same locally:

* an unknown path -> 404 ``not_found``;
* a known path with a method it does not have -> 405 ``method_not_allowed`` (with ``Allow``),
  whatever the method (TRACE, CONNECT or any other token included);

both with ``X-Correlation-Id`` (the caller's own when well-formed, else a new one) and the CORS
headers the app sends (the caller's origin when the stage allows it). Everything else, preflight
included, goes to the app as before.

The local stack serves with ``handler_cls=RequestHandler``.
"""

from __future__ import annotations

import json
import re
import uuid
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from chalice.app import Chalice
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalGateway, RouteMatcher

from chalicelib.config import get_settings

_CORRELATION = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_METHOD = re.compile(r"[A-Z]{1,16}")  # named in a 405's message; any other token is not echoed
EXPOSE_HEADERS = "X-Correlation-Id,ETag,Retry-After"


def _envelope(code: str, message: str) -> str:
    return json.dumps({"error": {"code": code, "message": message, "details": []}})


class EnvelopeGateway(LocalGateway):
    """Chalice's ``LocalGateway``, answering unknown paths and methods in the error envelope."""

    def __init__(self, app_object: Chalice, config: Config) -> None:
        super().__init__(app_object, config)
        self._routes = RouteMatcher(list(app_object.routes))

    def handle_request(
        self, method: str, path: str, headers: dict[str, Any], body: bytes | None
    ) -> dict[str, Any]:
        try:
            resource = self._routes.match_route(path).route
        except ValueError:
            return self._answer(method, headers, 404, "not_found", "No route matches this path.")
        allowed = sorted({*self._app_object.routes[resource], "OPTIONS"})
        if method not in allowed:
            named = f"the {method}" if _METHOD.fullmatch(method) else "this"
            answer = self._answer(
                method,
                headers,
                405,
                "method_not_allowed",
                f"This path does not allow {named} method.",
            )
            answer["headers"]["Allow"] = ", ".join(allowed)
            return answer
        return dict(super().handle_request(method, path, headers, body))

    def _answer(
        self, method: str, headers: dict[str, Any], status: int, code: str, message: str
    ) -> dict[str, Any]:
        lowered = {k.lower(): v for k, v in headers.items()}
        correlation = lowered.get("x-correlation-id") or ""
        if not _CORRELATION.fullmatch(correlation):
            correlation = str(uuid.uuid4())
        out = {
            "Content-Type": "application/json",
            "X-Correlation-Id": correlation,
            "Access-Control-Expose-Headers": EXPOSE_HEADERS,
        }
        origins = get_settings().cors_allow_origins
        origin = lowered.get("origin")
        if "*" in origins:
            out["Access-Control-Allow-Origin"] = "*"
        elif origin and origin in origins:
            out["Access-Control-Allow-Origin"] = origin
            out["Vary"] = "Origin"
        return {
            "statusCode": status,
            "headers": out,
            "multiValueHeaders": {},
            "body": None if method == "HEAD" else _envelope(code, message),
        }


class RequestHandler(ChaliceRequestHandler):
    """Chalice's local request handler with :class:`EnvelopeGateway` in front of the app."""

    def __init__(
        self,
        request: Any,
        client_address: tuple[str, int],
        server: Any,
        app_object: Chalice,
        config: Config,
    ) -> None:
        # Set before the base class handles the request (it does so inside __init__).
        self.local_gateway = EnvelopeGateway(app_object, config)
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)

    if not TYPE_CHECKING:  # (the type checker keeps catching misspelt attributes)

        def __getattr__(self, name: str) -> Any:
            # http.server answers a method without a ``do_<METHOD>`` (TRACE, CONNECT, any
            # token) with its own 501 HTML page; the gateway answers them like any other method
            # the path does not have (405 in the envelope, or 404 for an unknown path).
            if name.startswith("do_"):
                return self._generic_handle
            raise AttributeError(name)
