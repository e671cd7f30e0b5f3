"""Organisation sign-up and settings over HTTP."""

from __future__ import annotations

from tests.support.accounts import PASSWORD, new_tenant, new_user, sign_up, token_for


def _signup_body(slug: str, **over):
    body = {
        "name": "Acme Tutoring",
        "slug": slug,
        "admin": {"email": "Boss@Acme.test", "name": "Boss", "password": PASSWORD},
    }
    body.update(over)
    return body


def test_sign_up_answers_tenant_admin_and_working_tokens(api):
    r = api.post("/tenants", _signup_body("acme"))
    assert r.status == 201
    data = r.json
    assert set(data) == {"tenant", "user", "tokens"}
    tenant, user, tokens = data["tenant"], data["user"], data["tokens"]
    assert tenant["slug"] == "acme" and tenant["name"] == "Acme Tutoring"
    assert tenant["escalate_after_minutes"] == 1440
    assert tenant["created_at"].endswith("Z")
    assert user["role"] == "admin" and user["active"] is True
    assert user["email"] == "boss@acme.test"  # normalised
    assert user["tenant_id"] == tenant["id"]
    assert "password" not in r.body.decode() and "hash" not in r.body.decode()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 0
    me = api.get("/users/me", token=tokens["access_token"])
    assert me.status == 200 and me.json["id"] == user["id"]


def test_taken_slug_is_409_and_changes_nothing(api):
    first = sign_up(api, "acme")
    r = api.post(
        "/tenants",
        _signup_body("acme", admin={"email": "other@x.test", "name": "O", "password": PASSWORD}),
    )
    assert r.status == 409 and r.error_code == "conflict"
    # The original tenant is untouched and the would-be admin cannot log in anywhere.
    assert api.get("/tenants/me", token=first.token).json["name"] == "Org acme"
    r = api.post("/auth/login", {"tenant": "acme", "email": "other@x.test", "password": PASSWORD})
    assert r.status == 401


def test_bad_slugs_and_passwords_are_422_with_field_details(api):
    for slug in ["ab", "Acme", "ac#me", "acme_1", "-acme", "a" * 41]:
        r = api.post("/tenants", _signup_body(slug))
        assert r.status == 422, slug
        assert r.error_code == "validation_error"
        assert any(d["field"] == "slug" for d in r.json["error"]["details"])
    r = api.post(
        "/tenants",
        _signup_body("acme", admin={"email": "a@b.co", "name": "A", "password": "Qx7-leak"}),
    )
    assert r.status == 422
    assert [d["field"] for d in r.json["error"]["details"]] == ["admin.password"]
    # The rejected password is not echoed back.
    assert "Qx7-leak" not in r.body.decode()


def test_unknown_fields_are_rejected(api):
    r = api.post("/tenants", _signup_body("acme", plan="enterprise"))
    assert r.status == 422
    assert r.json["error"]["details"][0]["field"] == "plan"
    r = api.post("/tenants", _signup_body("acme"))
    assert r.status == 201  # nothing was created by the rejected request


def test_tenant_settings_admin_only_and_bounded(api):
    t = new_tenant("acme")
    stu_token = token_for(new_user(t, "stu@acme.test", "student"))
    assert api.get("/tenants/me", token=stu_token).json["id"] == t.tenant["id"]
    r = api.patch("/tenants/me", {"name": "Hacked"}, token=stu_token)
    assert r.status == 403 and r.error_code == "forbidden"
    for bad in [0, 10081, "soon"]:
        r = api.patch("/tenants/me", {"escalate_after_minutes": bad}, token=t.token)
        assert r.status == 422, bad
    r = api.patch(
        "/tenants/me", {"name": "Acme Academy", "escalate_after_minutes": 30}, token=t.token
    )
    assert r.status == 200
    assert r.json["name"] == "Acme Academy" and r.json["escalate_after_minutes"] == 30
    assert api.get("/tenants/me", token=stu_token).json["escalate_after_minutes"] == 30
    r = api.patch("/tenants/me", {"id": "other"}, token=t.token)
    assert r.status == 422
