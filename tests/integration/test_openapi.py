"""The OpenAPI document is generated from the routes and covers every one of them."""

from __future__ import annotations

from openapi_spec_validator import validate


def _chalice_routes(app):
    """Every operation the app serves (the CORS preflight OPTIONS of each path is not one)."""
    for path, methods in app.routes.items():
        for method in methods:
            if method != "OPTIONS":
                yield path, method.lower()


def test_every_route_is_documented_with_schemas_and_errors(api, chalice_app):
    r = api.get("/openapi.json")
    assert r.status == 200
    doc = r.json
    validate(doc)  # a valid OpenAPI 3.1 document
    assert doc["openapi"].startswith("3.1")
    missing = [
        f"{m.upper()} {p}"
        for p, m in _chalice_routes(chalice_app)
        if m not in doc["paths"].get(p, {})
    ]
    assert missing == []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert "500" in op["responses"], (method, path)
            if op["security"]:
                assert {"401", "403"} <= set(op["responses"]), (method, path)
            if method in ("post", "patch"):
                assert "422" in op["responses"] and "413" in op["responses"], (method, path)
            for status, resp in op["responses"].items():
                if (path, status) == ("/health", "503"):
                    continue  # a degraded service answers with the health document
                if status.startswith(("4", "5")):
                    name = resp["$ref"].rsplit("/", 1)[1]
                    error = doc["components"]["responses"][name]
                    ref = error["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorEnvelope")


def test_request_and_response_models_are_in_the_document(api):
    doc = api.get("/openapi.json").json
    schemas = doc["components"]["schemas"]
    signup = doc["paths"]["/tenants"]["post"]
    body_ref = signup["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = schemas[body_ref.rsplit("/", 1)[1]]
    assert body["additionalProperties"] is False
    assert {"name", "slug", "admin"} <= set(body["required"])
    created = signup["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
    assert created.endswith("/SignUpOut")
    listing = doc["paths"]["/users"]["get"]
    params = {p["name"] for p in listing["parameters"] if "name" in p}
    assert {"limit", "cursor", "role"} <= params
    assert "password_hash" not in str(schemas)
    assert doc["paths"]["/health"]["get"]["security"] == []
