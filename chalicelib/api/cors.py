"""CORS, answered by the app itself: the allowed origin on every answer, and the preflight.

``CORS_ALLOW_ORIGINS`` lists the allowed origins (``*`` allows any). An allowed caller's
``Origin`` is named in ``Access-Control-Allow-Origin`` (with ``Vary: Origin``); any other origin
gets no such header, so browsers refuse to hand it the answer. Preflight ``OPTIONS`` requests
are answered by a route of the app for every path (not by API Gateway), so they follow the same
rule.
"""

from __future__ import annotations

from collections.abc import Callable

from chalice.app import Blueprint, Response

from chalicelib.config import get_settings

#: Request headers a browser may send (with the ones API Gateway's signing uses).
ALLOW_HEADERS = sorted(
    {
        "Authorization",
        "Content-Type",
        "X-Correlation-Id",
        "X-Tenant-Id",
        "Idempotency-Key",
        "If-None-Match",
        "X-Amz-Date",
        "X-Api-Key",
        "X-Amz-Security-Token",
    }
)
#: Response headers a browser may show the frontend.
EXPOSE_HEADERS = ["X-Correlation-Id", "ETag", "Retry-After"]
MAX_AGE_SECONDS = 600


def cors_headers(origin: str | None) -> dict[str, str]:
    """The CORS headers of an answer to a request from ``origin``."""
    headers = {
        "Access-Control-Allow-Headers": ",".join(ALLOW_HEADERS),
        "Access-Control-Expose-Headers": ",".join(EXPOSE_HEADERS),
        "Access-Control-Max-Age": str(MAX_AGE_SECONDS),
    }
    allowed = get_settings().cors_allow_origins
    if "*" in allowed:
        headers["Access-Control-Allow-Origin"] = "*"
    elif origin and origin in allowed:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Vary"] = "Origin"
    return headers


def add_preflight(blueprint: Blueprint, path: str, methods: Callable[[], list[str]]) -> None:
    """Answer ``OPTIONS path`` with the CORS headers and the path's methods."""

    def preflight(**_path_params: str) -> Response:
        origin = {k.lower(): v for k, v in (blueprint.current_request.headers or {}).items()}.get(
            "origin"
        )
        headers = cors_headers(origin)
        headers["Access-Control-Allow-Methods"] = ",".join([*methods(), "OPTIONS"])
        return Response(body="", status_code=200, headers=dict(headers))

    preflight.__name__ = f"preflight_{len(_PREFLIGHT_PATHS)}"
    _PREFLIGHT_PATHS.add(path)
    blueprint.route(path, methods=["OPTIONS"], content_types=["*/*"])(preflight)


def has_preflight(path: str) -> bool:
    return path in _PREFLIGHT_PATHS


_PREFLIGHT_PATHS: set[str] = set()
