"""Defects the conformance run (``tests/e2e/test_conformance.py``) found, each pinned down here
through the routes a client calls."""

from __future__ import annotations

from tests.conftest import PASSWORD, Api, TenantLogin


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
