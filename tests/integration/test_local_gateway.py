"""The local API server (as the local stack serves it) answers unknown paths and methods in the
error envelope, with X-Correlation-Id and CORS headers, and passes everything else to the app."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def base_url(chalice_app: Any) -> Iterator[str]:
    from chalice.cli.factory import CLIFactory
    from chalice.local import LocalDevServer

    from chalicelib.local.gateway import RequestHandler

    config = CLIFactory(str(PROJECT)).create_config_obj(chalice_stage_name="local")
    server = LocalDevServer(chalice_app, config, "127.0.0.1", 0, handler_cls=RequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server.server_address[1]}"
    finally:
        server.shutdown()
        server.server.server_close()


def test_unknown_paths_and_methods_answer_in_the_envelope(base_url: str) -> None:
    r = requests.get(f"{base_url}/nope", headers={"X-Correlation-Id": "c-1"}, timeout=10)
    assert r.status_code == 404
    assert r.json() == {
        "error": {"code": "not_found", "message": "No route matches this path.", "details": []}
    }
    assert r.headers["X-Correlation-Id"] == "c-1"
    assert r.headers["Access-Control-Allow-Origin"] == "*"  # the local stage allows any origin

    r = requests.patch(f"{base_url}/health", headers={"X-Correlation-Id": "bad id!"}, timeout=10)
    assert r.status_code == 405
    assert r.json()["error"] == {
        "code": "method_not_allowed",
        "message": "This path does not allow the PATCH method.",
        "details": [],
    }
    assert r.headers["Allow"] == "GET, OPTIONS"
    assert r.headers["X-Correlation-Id"] != "bad id!"  # replaced, not reflected

    for method in ("TRACE", "CONNECT", "PROPFIND", "X-ECHO-ME"):
        r = requests.request(method, f"{base_url}/health", timeout=10)
        assert r.status_code == 405, method
        assert r.headers["Content-Type"] == "application/json"
        assert r.json()["error"]["code"] == "method_not_allowed"
        assert "ECHO" not in r.text
    assert requests.request("TRACE", f"{base_url}/nope", timeout=10).status_code == 404

    head = requests.head(f"{base_url}/nope", timeout=10)
    assert head.status_code == 404 and head.content == b""
    health = requests.get(f"{base_url}/health", timeout=10).json()
    assert health == {"status": "ok", "checks": {"dynamodb": "ok"}}


def test_with_listed_origins_only_an_allowed_caller_is_named(
    base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.config import Settings

    stage = Settings(cors_allow_origins="https://app.example,https://admin.example")
    monkeypatch.setattr("chalicelib.local.gateway.get_settings", lambda: stage)
    r = requests.get(f"{base_url}/nope", headers={"Origin": "https://admin.example"}, timeout=10)
    assert r.headers["Access-Control-Allow-Origin"] == "https://admin.example"
    assert r.headers["Vary"] == "Origin"
    r = requests.get(f"{base_url}/nope", headers={"Origin": "https://evil.example"}, timeout=10)
    assert "Access-Control-Allow-Origin" not in r.headers
    assert "X-Correlation-Id" in r.headers["Access-Control-Expose-Headers"]
