"""Tenant isolation: one tenant's admin reads and writes nothing of another's."""

from __future__ import annotations

from tests.support.accounts import new_user


def test_other_tenants_users_are_404_for_reads_and_writes(api, acme, globex):
    victim = new_user(acme, "victim@acme.test", "student")
    r = api.get(f"/users/{victim['id']}", token=globex.token)
    assert r.status == 404 and r.error_code == "not_found"
    r = api.patch(f"/users/{victim['id']}", {"name": "pwned", "active": False}, token=globex.token)
    assert r.status == 404
    assert api.get(f"/users/{victim['id']}", token=acme.token).json["name"] == "Someone"
    assert api.get(f"/users/{victim['id']}", token=acme.token).json["active"] is True
    listed = [u["email"] for u in api.get("/users", token=globex.token).json["items"]]
    assert listed == ["admin@example.com"]
    assert api.get("/tenants/me", token=globex.token).json["slug"] == "globex"
    api.patch("/tenants/me", {"name": "Globex Inc"}, token=globex.token)
    assert api.get("/tenants/me", token=acme.token).json["name"] == "Org acme"


def test_tenant_header_must_match_the_token(api, acme, globex):
    r = api.get("/users/me", token=acme.token, headers={"X-Tenant-Id": globex.tenant["id"]})
    assert r.status == 403 and r.error_code == "forbidden"
    r = api.get("/users/me", token=acme.token, headers={"X-Tenant-Id": acme.tenant["id"]})
    assert r.status == 200


def test_ids_with_key_separators_never_reach_the_table(api, acme, aws_requests):
    api.get("/users/me", token=acme.token)  # the caller's role is read (and kept) once
    aws_requests.reset()
    for path in ["/users/a%23b", "/users/USER%23x", "/users/" + "x" * 65]:
        r = api.get(path, token=acme.token)
        assert r.status == 404, path
    assert aws_requests.count() == 0


def test_login_slug_with_separator_is_just_invalid_credentials(api, acme):
    r = api.post(
        "/auth/login", {"tenant": "acme#x", "email": "admin@example.com", "password": "x" * 12}
    )
    assert r.status == 401 and r.error_code == "invalid_credentials"
