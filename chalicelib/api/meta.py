"""Health and the API description.

Caching: the document changes only with a deploy, so it is ``public`` for five minutes and
carries an ``ETag`` (``If-None-Match`` answers 304).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache

from chalicelib.api.framework import Api, Reply, Request
from chalicelib.models.common import Out

api = Api(__name__, tag="meta")

PAGE_CACHE = "public, max-age=300"
_CACHED = ("If-None-Match",)
_CACHE_HEADERS = ("ETag", "Cache-Control")


class Health(Out):
    status: str = "ok"

    model_config = {"json_schema_extra": {"examples": [{"status": "ok"}]}}


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


@lru_cache(maxsize=1)
def _document() -> Static:
    from chalicelib.api.openapi import document

    return Static(json.dumps(document()), "application/json")


@api.route("/health", auth=False, response=Health)
def health(req: Request) -> Health:
    """Liveness: the function answers."""
    return Health()


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
