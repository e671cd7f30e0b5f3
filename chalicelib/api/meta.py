"""Health, the API description and its HTML page (public, like the document it renders).

``GET /docs`` is Swagger UI rendering ``GET /openapi.json``. Its scripts and styles come from the
``swagger-ui-bundle-v2`` package and are served by these routes, so the page needs nothing but
this API (no CDN; its Content-Security-Policy allows this origin only).

Caching: the document and the page change only with a deploy, so they are ``public`` for five
minutes and carry an ``ETag`` (``If-None-Match`` answers 304); the assets are addressed with
their content hash (``?v=``) and may be kept for a year.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Literal

from pydantic import Field
from swagger_ui_bundle import swagger_ui_path

from chalicelib.api.framework import Api, Reply, Request
from chalicelib.db.base import probe
from chalicelib.db.store import default_store
from chalicelib.models.common import Out
from chalicelib.services.health import HealthService

api = Api(__name__, tag="meta")

PAGE_CACHE = "public, max-age=300"
ASSET_CACHE = "public, max-age=31536000, immutable"
#: The page may load scripts, styles and data from this API only.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_CACHED = ("If-None-Match",)
_CACHE_HEADERS = ("ETag", "Cache-Control")

_INITIALIZER = """\
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: new URL("openapi.json", window.location.href).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null,
    displayRequestDuration: true,
    tryItOutEnabled: false
  });
});
"""

_PAGE = """\
<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>tutorbook API</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="docs/swagger-ui.css?v={css}">
</head>
<body>
  <noscript>This page needs JavaScript; the raw document is at openapi.json.</noscript>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.js?v={bundle}"></script>
  <script src="docs/swagger-initializer.js?v={init}"></script>
</body>
</html>
"""


class Health(Out):
    """``ok`` when every check passes, else ``degraded`` (answered 503), with each check."""

    status: Literal["ok", "degraded"] = "ok"
    checks: dict[str, Literal["ok", "unavailable"]] = Field(
        default_factory=dict, examples=[{"dynamodb": "ok"}]
    )

    model_config = {
        "json_schema_extra": {"examples": [{"status": "ok", "checks": {"dynamodb": "ok"}}]}
    }


class OpenApiDocument(Out):
    """The OpenAPI 3.1 document (free-form JSON)."""

    model_config = {
        "extra": "allow",
        "json_schema_extra": {
            "examples": [{"openapi": "3.1.0", "info": {"title": "tutorbook API"}, "paths": {}}]
        },
    }


@dataclass(frozen=True)
class Static:
    """A text answer that changes only with a deploy, with its validator."""

    text: str
    media_type: str

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.text.encode()).hexdigest()[:20] + '"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


def _serve(req: Request, static: Static, cache_control: str, **extra: str) -> Reply:
    headers = {"ETag": static.etag, "Cache-Control": cache_control, **extra}
    if _matches(req.headers.get("if-none-match"), static.etag):
        return Reply(body=None, status=304, headers=headers)
    headers["Content-Type"] = static.media_type
    return Reply(body=static.text, headers=headers)


@cache
def _asset(name: str) -> Static:
    if name == "swagger-initializer.js":
        return Static(_INITIALIZER, "application/javascript; charset=utf-8")
    media = "text/css; charset=utf-8" if name.endswith(".css") else "application/javascript"
    return Static((swagger_ui_path / name).read_text(encoding="utf-8"), media)


@lru_cache(maxsize=1)
def _page() -> Static:
    version = {
        key: _asset(name).etag.strip('"')
        for key, name in (
            ("css", "swagger-ui.css"),
            ("bundle", "swagger-ui-bundle.js"),
            ("init", "swagger-initializer.js"),
        )
    }
    return Static(_PAGE.format(**version), "text/html; charset=utf-8")


@lru_cache(maxsize=1)
def _document() -> Static:
    from chalicelib.api.openapi import document

    return Static(json.dumps(document()), "application/json")


@api.route("/health", auth=False, response=Health)
def health(req: Request) -> Reply:
    """Health: the function answers; `checks` says whether the database does (503 if not)."""
    store = default_store()
    report = HealthService({"dynamodb": probe}, clock=store.clock).report()
    body = Health(status="ok" if report.healthy else "degraded", checks=report.checks)
    return Reply(body=body, status=200 if report.healthy else 503)


@api.route(
    "/openapi.json",
    auth=False,
    response=OpenApiDocument,
    request_headers=_CACHED,
    response_headers=_CACHE_HEADERS,
)
def openapi(req: Request) -> Reply:
    """This API's OpenAPI 3.1 document."""
    return _serve(req, _document(), PAGE_CACHE)


@api.route(
    "/docs",
    auth=False,
    media_type="text/html",
    request_headers=_CACHED,
    response_headers=(*_CACHE_HEADERS, "Content-Security-Policy"),
)
def docs_page(req: Request) -> Reply:
    """This API's documentation: an HTML page rendering the OpenAPI document (works offline)."""
    return _serve(req, _page(), PAGE_CACHE, **{"Content-Security-Policy": CONTENT_SECURITY_POLICY})


def _asset_route(name: str, media_type: str, summary: str) -> None:
    def serve(req: Request) -> Reply:
        return _serve(req, _asset(name), ASSET_CACHE)

    serve.__name__ = "docs_" + name.rsplit(".", 1)[0].replace("-", "_")
    api.route(
        f"/docs/{name}",
        auth=False,
        media_type=media_type,
        request_headers=_CACHED,
        response_headers=_CACHE_HEADERS,
        summary=summary,
    )(serve)


_asset_route("swagger-ui.css", "text/css", "The docs page's styles (Swagger UI).")
_asset_route("swagger-ui-bundle.js", "application/javascript", "The docs page's script.")
_asset_route("swagger-initializer.js", "application/javascript", "The docs page's set-up.")
