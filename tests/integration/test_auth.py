"""Login, lockout, refresh rotation, reuse detection and logout."""

from __future__ import annotations

import time

import jwt
import pytest

from tests.support.accounts import PASSWORD, login, new_tenant, new_user


@pytest.fixture
def acme_users(api):
    t = new_tenant("acme")
    student = new_user(t, "stu@acme.test", "student")
    return t, student


def test_unknown_tenant_email_and_wrong_password_answer_identically(api, acme_users):
    answers = [
        api.post("/auth/login", {"tenant": "nope", "email": "stu@acme.test", "password": PASSWORD}),
        api.post("/auth/login", {"tenant": "acme", "email": "who@acme.test", "password": PASSWORD}),
        api.post("/auth/login", {"tenant": "acme", "email": "stu@acme.test", "password": "x" * 12}),
    ]
    assert {a.status for a in answers} == {401}
    assert len({a.body for a in answers}) == 1
    assert answers[0].error_code == "invalid_credentials"


def test_login_answers_tokens(api, acme_users):
    tokens = login(api, "acme", "STU@acme.test")  # email is case-insensitive
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}
    me = api.get("/users/me", token=tokens["access_token"]).json
    assert me["email"] == "stu@acme.test" and me["role"] == "student"


def test_five_failures_lock_the_account_until_the_window_passes(api, acme_users, clock):
    body = {"tenant": "acme", "email": "stu@acme.test", "password": "wrong-password!"}
    for _ in range(5):
        assert api.post("/auth/login", body).status == 401
    r = api.post("/auth/login", {**body, "password": PASSWORD})
    assert r.status == 429 and r.error_code == "too_many_requests"
    assert 1 <= int(r.headers["retry-after"]) <= 15 * 60 + 1
    # Another account of the same tenant is not affected.
    assert (
        api.post("/auth/login", {**body, "email": "admin@example.com", "password": PASSWORD}).status
        == 200
    )
    # After the window, the right password works again.
    clock.advance(minutes=16)
    assert api.post("/auth/login", {**body, "password": PASSWORD}).status == 200


def test_unknown_emails_are_throttled_like_known_ones(api, acme_users):
    body = {"tenant": "acme", "email": "ghost@acme.test", "password": "wrong-password!"}
    statuses = [api.post("/auth/login", body).status for _ in range(6)]
    assert statuses == [401] * 5 + [429]


def test_refresh_rotates_and_reuse_revokes_the_family(api, acme_users):
    first = login(api, "acme", "stu@acme.test")
    r = api.post("/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert r.status == 200
    second = r.json
    assert second["refresh_token"] != first["refresh_token"]
    assert api.get("/users/me", token=second["access_token"]).status == 200
    # The spent token comes back: 401, and the live one of the same login dies too.
    r = api.post("/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert r.status == 401 and r.error_code == "unauthorized"
    assert api.post("/auth/refresh", {"refresh_token": second["refresh_token"]}).status == 401
    # Another login of the same user is unaffected.
    other = login(api, "acme", "stu@acme.test")
    assert api.post("/auth/refresh", {"refresh_token": other["refresh_token"]}).status == 200


def test_logout_revokes_the_family(api, acme_users):
    tokens = login(api, "acme", "stu@acme.test")
    r = api.post("/auth/logout", {"refresh_token": tokens["refresh_token"]})
    assert r.status == 204 and r.body == b""
    assert api.post("/auth/refresh", {"refresh_token": tokens["refresh_token"]}).status == 401


def test_token_kinds_never_cross(api, acme_users):
    tokens = login(api, "acme", "stu@acme.test")
    r = api.post("/auth/refresh", {"refresh_token": tokens["access_token"]})
    assert r.status == 401
    r = api.get("/users/me", token=tokens["refresh_token"])
    assert r.status == 401 and r.error_code == "unauthorized"


def test_forged_expired_and_alg_none_tokens_are_401(api, acme_users):
    tokens = login(api, "acme", "stu@acme.test")
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    none_token = jwt.encode({**claims, "role": "admin"}, key="", algorithm="none")
    forged = jwt.encode({**claims, "role": "admin"}, "guessed-secret-" * 3, algorithm="HS256")
    expired_claims = {**claims, "exp": int(time.time()) - 3600}
    from chalicelib.auth.tokens import _key

    expired = jwt.encode(expired_claims, _key("access"), algorithm="HS256")
    missing_jti = jwt.encode(
        {k: v for k, v in claims.items() if k != "jti"}, _key("access"), algorithm="HS256"
    )
    for bad in [none_token, forged, expired, missing_jti, "not.a.jwt", ""]:
        r = api.get("/users/me", headers={"Authorization": f"Bearer {bad}"})
        assert r.status == 401, bad
        assert r.error_code == "unauthorized"
    assert api.get("/users/me").status == 401
    assert api.get("/users/me", headers={"Authorization": "Basic abc"}).status == 401


def test_deactivated_user_can_neither_log_in_nor_refresh(api, acme_users):
    t, student = acme_users
    tokens = login(api, "acme", "stu@acme.test")
    r = api.patch(f"/users/{student['id']}", {"active": False}, token=t.token)
    assert r.status == 200 and r.json["active"] is False
    r = api.post("/auth/login", {"tenant": "acme", "email": "stu@acme.test", "password": PASSWORD})
    assert r.status == 401 and r.error_code == "invalid_credentials"
    assert api.post("/auth/refresh", {"refresh_token": tokens["refresh_token"]}).status == 401
    # Reactivated: the old login stays ended, a new one works.
    api.patch(f"/users/{student['id']}", {"active": True}, token=t.token)
    assert api.post("/auth/refresh", {"refresh_token": tokens["refresh_token"]}).status == 401
    assert login(api, "acme", "stu@acme.test")["access_token"]


def test_role_change_takes_effect_at_the_next_refresh(api, acme_users):
    t, student = acme_users
    tokens = login(api, "acme", "stu@acme.test")
    api.patch(f"/users/{student['id']}", {"role": "instructor"}, token=t.token)
    refreshed = api.post("/auth/refresh", {"refresh_token": tokens["refresh_token"]}).json
    claims = jwt.decode(refreshed["access_token"], options={"verify_signature": False})
    assert claims["role"] == "instructor"


def test_access_token_claims(api, acme_users):
    tokens = login(api, "acme", "stu@acme.test")
    header = jwt.get_unverified_header(tokens["access_token"])
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert header["alg"] == "HS256"
    assert {"sub", "tenant", "role", "iss", "aud", "exp", "iat", "jti", "typ"} <= set(claims)
    assert claims["typ"] == "access"
    assert claims["exp"] - claims["iat"] == tokens["expires_in"]


def test_refresh_tokens_are_stored_only_as_hashes(api, acme_users, aws):
    import boto3

    tokens = login(api, "acme", "stu@acme.test")
    items = boto3.client("dynamodb").scan(TableName=aws["MAIN_TABLE"])["Items"]
    dump = repr(items)
    assert tokens["refresh_token"] not in dump
    assert tokens["refresh_token"].split(".")[2] not in dump
    assert PASSWORD not in dump


def test_login_request_budget(api, acme_users, aws_requests):
    login(api, "acme", "stu@acme.test")  # warms the slug cache, as a warm Lambda would be
    aws_requests.reset()
    login(api, "acme", "stu@acme.test")
    # the attempt counted, the credential, the user's access, the attempt settled, the family.
    assert aws_requests.operations() == [
        "UpdateItem",
        "GetItem",
        "GetItem",
        "UpdateItem",
        "PutItem",
    ]
