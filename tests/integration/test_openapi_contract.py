"""The served OpenAPI document is the contract: it names exactly the routes the app serves, its
examples are valid, and what it says about bodies, headers and errors is what the server does."""

from __future__ import annotations

import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.support.accounts import TenantLogin, new_user, token_for
from tests.support.http import Api

METHODS = ("get", "put", "post", "patch", "delete")


@pytest.fixture
def doc(api: Api) -> dict[str, Any]:
    r = api.get("/openapi.json")
    assert r.status == 200
    return dict(r.json)


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if method in METHODS
    ]


def _validator(doc: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({**schema, "components": doc["components"]})


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        section, name = node["$ref"].split("/")[-2:]
        node = doc["components"][section][name]
    return node


def test_the_document_and_the_app_name_the_same_operations(doc, chalice_app):
    served = {
        (path, method.lower())
        for path, methods in chalice_app.routes.items()
        for method in methods
        if method != "OPTIONS"  # the CORS preflight every path answers (see the description)
    }
    documented = {(path, method) for path, method, _ in _operations(doc)}
    assert served - documented == set(), "served but not documented"
    assert documented - served == set(), "documented but not served"


def test_every_body_has_an_example_that_its_schema_accepts(doc):
    checked = 0
    for path, method, op in _operations(doc):
        bodies = [op.get("requestBody", {}).get("content", {})]
        bodies += [_resolve(doc, r).get("content", {}) for r in op["responses"].values()]
        for content in bodies:
            for media, entry in content.items():
                if media != "application/json":
                    continue
                assert "example" in entry, (method, path)
                errors = list(_validator(doc, entry["schema"]).iter_errors(entry["example"]))
                assert errors == [], (method, path, [e.message for e in errors])
                checked += 1
    assert checked > 100


def test_path_parameters_carry_the_pattern_the_server_enforces(api, acme, doc):
    from chalicelib.api.framework import ROUTES

    # A route may enforce its own segment (a calendar feed's `<token>.ics`); ids otherwise.
    own = {(s.method, s.path): s.path_pattern.pattern for s in ROUTES if s.path_pattern}
    for path, method, op in _operations(doc):
        for param in op["parameters"]:
            param = _resolve(doc, param)
            if param["in"] == "path":
                expected = own.get((method.upper(), path), "[A-Za-z0-9_-]{1,64}")
                assert param["schema"]["pattern"] == f"^{expected}$", (method, path)
    # An id outside the pattern is not found, whatever it is.
    for bad in ("a.b", "x" * 65, "%C3%A9"):
        assert api.get(f"/bookings/{bad}", token=acme.token).status == 404


def test_every_header_is_documented_where_it_applies(doc):
    def header_params(op: dict[str, Any]) -> set[str]:
        return {
            p["name"] for p in (_resolve(doc, q) for q in op["parameters"]) if p["in"] == "header"
        }

    for path, method, op in _operations(doc):
        assert "X-Correlation-Id" in header_params(op), (method, path)
        if op["security"]:
            assert "X-Tenant-Id" in header_params(op), (method, path)
        for status, response in op["responses"].items():
            headers = _resolve(doc, response)["headers"]
            assert {"X-Correlation-Id", "Access-Control-Allow-Origin"} <= set(headers), status
    paths = doc["paths"]
    assert "Idempotency-Key" in header_params(paths["/bookings"]["post"])
    course = paths["/courses/{course_id}"]["get"]
    assert "If-None-Match" in header_params(course)
    assert "ETag" in course["responses"]["200"]["headers"] and "304" in course["responses"]
    throttled = _resolve(doc, paths["/auth/login"]["post"]["responses"]["429"])
    assert "Retry-After" in throttled["headers"]
    for name in ("NotFound", "MethodNotAllowed", "UnsupportedMediaType"):
        assert name in doc["components"]["responses"]


def _tokens_by_role(api: Api, acme: TenantLogin) -> dict[str, str]:
    tokens = {"admin": acme.token}
    for role in ("instructor", "student"):
        user = new_user(acme, f"{role}@acme.test", role)
        tokens[role] = token_for(user)
    return tokens


def test_a_body_is_required_exactly_when_the_server_rejects_an_empty_one(api, acme, doc):
    """The server reads an empty body as ``{}``: it may be left out when every field is
    optional, and the document says which."""
    tokens = _tokens_by_role(api, acme)
    checked = 0
    for path, method, op in _operations(doc):
        if "requestBody" not in op:
            continue
        roles = re.findall(r"admin|instructor|student", op.get("description", ""))
        token = tokens[roles[0]] if op["security"] and roles else None
        url = re.sub(r"{[^}]+}", "doesnotexist", path)
        r = api.call(method.upper(), url, raw="", token=token)
        required = op["requestBody"]["required"]
        assert (r.status == 422) == required, (method, path, r.status, r.body)
        checked += 1
    assert checked >= 15


def test_validation_errors_have_the_documented_detail_shape(api, acme, doc):
    envelope = _validator(doc, {"$ref": "#/components/schemas/ErrorEnvelope"})
    body = api.post(
        "/users",
        {"email": "nope", "name": "", "role": "pilot", "password": "short"},
        token=acme.token,
    )
    query = api.get("/users?limit=1000", token=acme.token)
    for r in (body, query):
        assert r.status == 422
        assert list(envelope.iter_errors(r.json)) == []
    fields = {d["field"] for d in body.json["error"]["details"]}
    assert {"email", "name", "role", "password"} <= fields
    assert query.json["error"]["details"][0] | {"problem": "…"} == {
        "field": "limit",
        "problem": "…",
        "type": "less_than_equal",
        "in": "query",
    }


def test_the_document_is_public_and_cacheable(api):
    first = api.get("/openapi.json")
    assert first.status == 200
    assert first.headers["cache-control"].startswith("public")
    assert first.headers["content-type"].startswith("application/json")
    etag = first.headers["etag"]
    again = api.get("/openapi.json", headers={"If-None-Match": etag})
    assert again.status == 304 and again.body == b""
    assert again.headers["etag"] == etag
    stale = api.get("/openapi.json", headers={"If-None-Match": '"other"'})
    assert stale.status == 200 and stale.json == first.json
