"""Hostile input answers a 4xx in the envelope and changes nothing: deep nesting, control and
look-alike characters, the far ends of the calendar, huge numbers, odd encodings and media
types, tokens that live too long or name a role that does not exist."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from tests.security.conftest import World, build_world
from tests.support.accounts import PASSWORD
from tests.support.http import Api


@pytest.fixture(scope="module")
def world(module_api: Api) -> World:
    return build_world("inputs")


def user_count(api: Api, world: World) -> int:
    return len(api.get("/users?limit=100", token=world.token("admin")).json["items"])


def assert_envelope(r: Any, status: int, code: str) -> None:
    assert r.status == status, r.body
    assert set(r.json) == {"error"} and r.json["error"]["code"] == code


@pytest.mark.parametrize("depth", [1_000, 30_000])
def test_deeply_nested_json_is_400_also_before_login(module_api: Api, world: World, depth: int):
    nested = "[" * depth + "]" * depth
    for path, token in [("/auth/login", None), ("/users", world.token("admin"))]:
        r = module_api.call("POST", path, raw=nested, token=token)
        assert_envelope(r, 400, "bad_request")
    body = '{"tenant": "inputs", "email": "x@y.z", "password": ' + "{" * 5000 + "}" * 5000
    assert_envelope(module_api.call("POST", "/auth/login", raw=body), 400, "bad_request")


@pytest.mark.parametrize(
    "email",
    [
        "a\x01b@inputs.example",
        "ab@inputs.exam\x7fple",
        "a\u200bb@inputs.example",  # zero-width space
        "ab@inputs.example\u202e",  # right-to-left override
        "a\ud800b@inputs.example",  # a lone surrogate
        "＃b@inputs.example",  # a full-width '#' (a key separator once normalised)
        "\ufdfa" * 30 + "@inputs.example",  # grows past 254 characters when normalised
    ],
)
def test_control_format_and_expanding_characters_in_emails_are_422(
    module_api: Api, world: World, email: str
):
    before = user_count(module_api, world)
    body = {"email": email, "name": "X", "role": "student", "password": PASSWORD}
    r = module_api.post("/users", body, token=world.token("admin"))
    assert r.status in (400, 422), r.body
    assert r.json["error"]["code"] in ("bad_request", "validation_error")
    login = {"tenant": "inputs", "email": email, "password": PASSWORD}
    assert module_api.post("/auth/login", login).status in (400, 401, 422)
    assert user_count(module_api, world) == before


def test_look_alike_spellings_of_one_email_are_one_account(module_api: Api, world: World):
    api, admin = module_api, world.token("admin")
    body = {"email": "Straße@Inputs.Example", "name": "S", "role": "student", "password": PASSWORD}
    created = api.post("/users", body, token=admin)
    assert created.status == 201 and created.json["email"] == "strasse@inputs.example"
    for twin in (
        "STRASSE@inputs.example",
        "ｓｔｒａｓｓｅ@inputs.example",
        "strasse@ｉｎｐｕｔｓ.example",
    ):
        r = api.post("/users", {**body, "email": twin}, token=admin)
        assert r.status == 409, twin
        login = {"tenant": "inputs", "email": twin, "password": PASSWORD}
        assert api.post("/auth/login", login).status == 200, twin


@pytest.mark.parametrize(
    "starts_at",
    [
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:00:00-05:00",
        "0001-01-01T00:00:00+01:00",
        "1970-01-01T00:00:00Z",
    ],
)
def test_dates_at_the_ends_of_the_calendar_are_422(module_api: Api, world: World, starts_at: str):
    api = module_api
    before = api.get("/bookings", token=world.token("student")).json["items"]
    body = {"course_id": world.course, "starts_at": starts_at, "duration_minutes": 240}
    assert_envelope(
        api.post("/bookings", body, token=world.token("student")), 422, "validation_error"
    )
    assert api.get("/bookings", token=world.token("student")).json["items"] == before


@pytest.mark.parametrize(
    "raw",
    [
        '{"title": "x", "position": 1e400}',
        '{"title": "x", "position": ' + "9" * 5000 + "}",
        '{"title": "x", "position": NaN}',
        '{"title": "x", "position": -Infinity}',
    ],
)
def test_huge_numbers_are_4xx(module_api: Api, world: World, raw: str):
    r = module_api.call(
        "POST", f"/courses/{world.course}/modules", raw=raw, token=world.token("instructor")
    )
    assert r.status in (400, 422), r.body
    assert r.json["error"]["code"] in ("bad_request", "validation_error")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"title": "\xff\xfe"}',  # not UTF-8
        '{"title": "x"}'.encode("utf-16"),
        b'\xef\xbb\xbf{"title": "x"}',  # a byte-order mark
        b'{"title": "\\ud800"}',  # an escaped lone surrogate
    ],
)
def test_odd_encodings_are_400(module_api: Api, world: World, raw: bytes):
    before = module_api.get("/courses", token=world.token("admin")).json["items"]
    r = module_api.call("POST", "/courses", raw=raw, token=world.token("instructor"))
    assert_envelope(r, 400, "bad_request")
    assert module_api.get("/courses", token=world.token("admin")).json["items"] == before


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain",
        "application/json; charset=latin-1",
        "application/jsonp",
    ],
)
def test_bodies_that_are_not_json_are_415_even_before_login(
    module_api: Api, world: World, content_type: str
):
    headers = {"Content-Type": content_type}
    login = json.dumps(
        {"tenant": "inputs", "email": world.people["login"].email, "password": PASSWORD}
    )
    r = module_api.call("POST", "/auth/login", raw=login, headers=headers)
    assert_envelope(r, 415, "unsupported_media_type")
    signup = {
        "name": "Evil",
        "slug": "evil-form",
        "admin": {"email": "e@v.il", "name": "E", "password": PASSWORD},
    }
    r = module_api.call("POST", "/tenants", raw=json.dumps(signup), headers=headers)
    assert_envelope(r, 415, "unsupported_media_type")
    # A form post to a route without a body is refused too (it would carry no token anyway).
    booking = world.new_booking()
    r = module_api.call(
        "POST", f"/bookings/{booking}/approve", raw="", headers=headers, token=world.token("admin")
    )
    assert_envelope(r, 415, "unsupported_media_type")
    assert (
        module_api.get(f"/bookings/{booking}", token=world.token("admin")).json["status"]
        == "requested"
    )


def test_json_with_a_utf8_charset_and_bodiless_posts_without_a_type_are_fine(
    module_api: Api, world: World
):
    login = json.dumps(
        {"tenant": "inputs", "email": world.people["login"].email, "password": PASSWORD}
    )
    r = module_api.call(
        "POST",
        "/auth/login",
        raw=login,
        headers={"Content-Type": "Application/JSON; charset=UTF-8"},
    )
    assert r.status == 200
    booking = world.new_booking()
    r = module_api.client.http.post(
        f"/bookings/{booking}/approve", headers={"Authorization": f"Bearer {world.token('admin')}"}
    )
    assert r.status_code == 200


def _signed(claims: dict[str, Any]) -> str:
    from chalicelib.auth.tokens import _key

    return jwt.encode(claims, _key("access"), algorithm="HS256")


def test_tokens_that_claim_to_live_too_long_or_a_role_that_does_not_exist_are_401(
    module_api: Api, world: World
):
    now = datetime.now(UTC)
    base = jwt.decode(world.token("admin"), options={"verify_signature": False})
    long_lived = {
        **base,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(days=365)).timestamp()),
    }
    for claims in [long_lived, {**base, "role": "superadmin"}, {**base, "role": "Admin"}]:
        token = _signed(claims)
        for method, path in [("GET", "/users/me"), ("GET", "/audit"), ("PATCH", "/tenants/me")]:
            body = {"name": "x"} if method == "PATCH" else None
            r = module_api.call(method, path, json_body=body, token=token)
            assert_envelope(r, 401, "unauthorized")
