"""JSON over the Chalice test client, the way a frontend calls the API."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass
class Response:
    """An HTTP response as the test client received it."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def error_code(self) -> str | None:
        data = self.json
        return data["error"]["code"] if isinstance(data, dict) and "error" in data else None


class Api:
    """Requests through ``chalice.test.Client``: the app's real routes, in-process."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        raw: str | bytes | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        h = {"Content-Type": "application/json"}
        if token:
            h["Authorization"] = f"Bearer {token}"
        h.update(headers or {})
        body: Any = (
            raw if raw is not None else (json.dumps(json_body) if json_body is not None else None)
        )
        response = getattr(self.client.http, method.lower())(path, headers=h, body=body)
        headers_out = {k.lower(): v for k, v in response.headers.items()}
        return Response(response.status_code, headers_out, response.body or b"")

    def get(self, path: str, **kw: Any) -> Response:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Response:
        return self.call("POST", path, json_body=body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Response:
        return self.call("PATCH", path, json_body=body, **kw)

    def delete(self, path: str, **kw: Any) -> Response:
        return self.call("DELETE", path, **kw)
