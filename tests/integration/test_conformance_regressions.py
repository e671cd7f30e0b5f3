"""Defects the conformance run (``tests/e2e/test_conformance.py``) found, each pinned down here
through the routes a client calls."""

from __future__ import annotations

from tests.support.accounts import PASSWORD, TenantLogin
from tests.support.http import Api


def test_an_email_with_control_characters_is_422_not_500(api: Api, acme: TenantLogin) -> None:
    """Such an email passed validation and then failed to become a key: a 500."""
    for email in ("a\x15@b.example", "a@b\x07.example", "a@b.exampl\x7f", "a\x85@b.example"):
        body = {"email": email, "name": "N", "role": "student", "password": PASSWORD}
        created = api.post("/users", body, token=acme.token)
        assert created.status == 422, (email, created.body)
        assert created.json["error"]["details"][0]["field"] == "email"
        login = api.post("/auth/login", {"tenant": acme.slug, "email": email, "password": "x"})
        assert login.status == 422, (email, login.body)
        admin = {"email": email, "name": "N", "password": PASSWORD}
        signup = api.post("/tenants", {"name": "N", "slug": "ctrl-org", "admin": admin})
        assert signup.status == 422, (email, signup.body)
    listed = api.get("/users", token=acme.token).json["items"]
    assert [u["email"] for u in listed] == ["admin@example.com"]


def test_numbers_and_flags_take_json_types_only(api: Api, acme: TenantLogin) -> None:
    """``0`` was taken for false, ``false`` for 0 and ``"60"`` for 60, though the document says
    boolean and integer: a generated client and the server must agree on what is valid."""
    token = acme.token
    course = api.post("/courses", {"title": "Algebra"}, token=token).json
    module = api.post(f"/courses/{course['id']}/modules", {"title": "M"}, token=token).json
    lessons = f"/courses/{course['id']}/modules/{module['id']}/lessons"
    lesson = api.post(lessons, {"title": "L"}, token=token).json
    wrong = [
        ("POST", "/courses", {"title": "T", "published": 0}),
        ("PATCH", f"/courses/{course['id']}", {"published": "true"}),
        ("PATCH", f"/courses/{course['id']}/modules/{module['id']}", {"position": False}),
        ("POST", lessons, {"title": "L2", "duration_minutes": "30"}),
        ("PATCH", f"{lessons}/{lesson['id']}", {"duration_minutes": True}),
        ("PATCH", "/tenants/me", {"escalate_after_minutes": True}),
        ("PATCH", f"/users/{acme.admin['id']}", {"active": 1}),
    ]
    for method, path, body in wrong:
        r = api.call(method, path, json_body=body, token=token)
        assert r.status == 422, (method, path, body, r.body)
        assert r.json["error"]["details"][0]["type"] in ("int_type", "bool_type"), r.body
    assert api.get("/tenants/me", token=token).json["escalate_after_minutes"] == 1440
    tree = api.get(f"/courses/{course['id']}", token=token).json
    assert (
        tree["published"] is False and tree["modules"][0]["lessons"][0]["duration_minutes"] is None
    )
    # JSON's own types still work.
    ok = api.patch(f"/courses/{course['id']}", {"published": True}, token=token)
    assert ok.status == 200 and ok.json["published"] is True
    moved = api.patch(f"{lessons}/{lesson['id']}", {"duration_minutes": 45}, token=token)
    assert moved.status == 200 and moved.json["duration_minutes"] == 45
    # The bounds are still published as JSON Schema's minimum / maximum.
    schemas = api.get("/openapi.json").json["components"]["schemas"]
    position = schemas["ModulePatchIn"]["properties"]["position"]["anyOf"][0]
    assert (position["minimum"], position["maximum"]) == (0, 10000)
    assert '"ge"' not in str(schemas).replace("'", '"')


def test_retry_after_is_documented_where_it_is_sent(api: Api, acme: TenantLogin) -> None:
    """The document listed ``Retry-After`` on a successful login, which never carries it."""
    doc = api.get("/openapi.json").json
    login = doc["paths"]["/auth/login"]["post"]["responses"]
    assert "Retry-After" not in login["200"]["headers"]
    ok = api.post(
        "/auth/login", {"tenant": acme.slug, "email": "admin@example.com", "password": PASSWORD}
    )
    assert ok.status == 200 and "retry-after" not in ok.headers
    for _ in range(6):
        refused = api.post(
            "/auth/login",
            {"tenant": acme.slug, "email": "admin@example.com", "password": "wrong password"},
        )
    assert refused.status == 429 and int(refused.headers["retry-after"]) >= 1
    name = login["429"]["$ref"].rsplit("/", 1)[1]
    assert doc["components"]["responses"][name]["headers"]["Retry-After"]
