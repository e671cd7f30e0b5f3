"""Unknown paths and methods on the local stack answer as API Gateway does on AWS: 404 and 405
in the error envelope, with X-Correlation-Id and CORS headers, like the app's own answers."""

from __future__ import annotations

import pytest
import requests

from tests.e2e.conftest import LocalStack

pytestmark = pytest.mark.e2e

ORIGIN = {"Origin": "https://frontend.example"}


def test_an_unknown_path_is_404_in_the_envelope(local_stack: LocalStack) -> None:
    for method in ("GET", "POST", "DELETE", "OPTIONS"):
        r = requests.request(
            method,
            local_stack.url("/no/such/thing"),
            headers={**ORIGIN, "X-Correlation-Id": "lost-42"},
            timeout=30,
        )
        assert r.status_code == 404, method
        assert r.json() == {
            "error": {"code": "not_found", "message": "No route matches this path.", "details": []}
        }
        assert r.headers["X-Correlation-Id"] == "lost-42"
        assert r.headers["Content-Type"] == "application/json"


def test_a_method_the_path_does_not_have_is_405_in_the_envelope(local_stack: LocalStack) -> None:
    r = requests.delete(local_stack.url("/health"), headers=ORIGIN, timeout=30)
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"
    assert set(r.json()["error"]) == {"code", "message", "details"}
    assert "GET" in r.headers["Allow"]
    assert r.headers["X-Correlation-Id"]  # a new one: the caller sent none
    # The path's own method still works.
    assert requests.get(local_stack.url("/health"), timeout=30).status_code == 200


def test_edge_answers_carry_the_same_cors_headers_as_the_app(local_stack: LocalStack) -> None:
    app = requests.get(local_stack.url("/health"), headers=ORIGIN, timeout=30)
    for r in (
        requests.get(local_stack.url("/nowhere"), headers=ORIGIN, timeout=30),
        requests.put(local_stack.url("/health"), headers=ORIGIN, timeout=30),
    ):
        for header in ("Access-Control-Allow-Origin", "Access-Control-Expose-Headers"):
            assert r.headers[header] == app.headers[header], header
