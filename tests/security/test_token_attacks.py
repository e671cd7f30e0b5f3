"""Forged, tampered and misused tokens: every one answers 401 in the envelope, on a read, a
write and an admin-only route (RFC 8725's list of JWT attacks, and then some)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.auth.tokens import _key
from tests.security.conftest import World, build_world
from tests.support.accounts import PASSWORD
from tests.support.http import Api

ROUTES = [("GET", "/users/me", None), ("POST", "/courses", {"title": "x"}), ("GET", "/audit", None)]


@pytest.fixture(scope="module")
def world(module_api: Api) -> World:
    return build_world("attacks")


@pytest.fixture(scope="module")
def tokens(module_api: Api, world: World) -> dict[str, str]:
    login = {"tenant": world.slug, "email": world.people["admin"].email, "password": PASSWORD}
    return dict(module_api.post("/auth/login", login).json)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: str = "") -> str:
    h = b64(json.dumps(header).encode())
    c = b64(json.dumps(claims).encode())
    return f"{h}.{c}.{signature}"


def hs256(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    """Signed by hand, with any header and any key (even an empty one)."""
    head = unsigned(header, claims).rstrip(".")
    return f"{head}.{b64(hmac.new(key, head.encode(), hashlib.sha256).digest())}"


def ours(
    claims: dict[str, Any], headers: dict[str, Any] | None = None, kind: str = "access"
) -> str:
    """Signed with the app's real key: what only a key leak or a bug could produce."""
    return jwt.encode(claims, _key(kind), algorithm="HS256", headers=headers)


_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_PUBLIC_PEM = _RSA.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


def attacks(world: World, tokens: dict[str, str]) -> dict[str, Callable[[dict[str, Any]], str]]:
    """Each attack turns the admin's genuine claims into a token."""
    now = int(time.time())
    jwk = {"kty": "oct", "k": b64(b"attacker-secret-attacker-secret!")}

    def without(name: str) -> Callable[[dict[str, Any]], str]:
        return lambda c: ours({k: v for k, v in c.items() if k != name})

    def alg_none(alg: str) -> Callable[[dict[str, Any]], str]:
        return lambda c: unsigned({"alg": alg, "typ": "JWT"}, c)

    cases: dict[str, Callable[[dict[str, Any]], str]] = {
        **{f"alg {alg}": alg_none(alg) for alg in ("none", "None", "NONE", "nOnE")},
        "another key": lambda c: jwt.encode(c, "guessed-secret-" * 3, algorithm="HS256"),
        "HS512 with our key": lambda c: hs256({"alg": "HS512", "typ": "JWT"}, c, _key("access")),
        "RS256 with an attacker key": lambda c: jwt.encode(c, _RSA, algorithm="RS256"),
        "HS256 keyed with a public key": lambda c: hs256(
            {"alg": "HS256", "typ": "JWT"}, c, _PUBLIC_PEM
        ),
        "kid path traversal": lambda c: hs256(
            {"alg": "HS256", "typ": "JWT", "kid": "../../../../dev/null"}, c, b""
        ),
        "kid on our own signature": lambda c: ours(c, headers={"kid": "1"}),
        "jku to an attacker": lambda c: jwt.encode(
            c,
            "attacker-secret-attacker-secret!",
            algorithm="HS256",
            headers={"jku": "https://attacker.example/jwks.json"},
        ),
        "embedded jwk": lambda c: jwt.encode(
            c, "attacker-secret-attacker-secret!", algorithm="HS256", headers={"jwk": jwk}
        ),
        "x5u header": lambda c: ours(c, headers={"x5u": "https://attacker.example/cert"}),
        "expired": lambda c: ours({**c, "iat": now - 7200, "exp": now - 3600}),
        "not yet valid (nbf)": lambda c: ours({**c, "nbf": now + 3600}),
        "issued in the future": lambda c: ours({**c, "iat": now + 600, "exp": now + 900}),
        "lifetime beyond the ttl": lambda c: ours({**c, "iat": now, "exp": now + 86_400}),
        "exp as a string": lambda c: ours({**c, "exp": str(c["exp"])}),
        "wrong issuer": lambda c: ours({**c, "iss": "someone-else"}),
        "wrong audience": lambda c: ours({**c, "aud": "another-api"}),
        "role outside the enum": lambda c: ours({**c, "role": "root"}),
        "role not a string": lambda c: ours({**c, "role": ["admin"]}),
        "version not an integer": lambda c: ours({**c, "av": "0"}),
        "typ refresh in an access token": lambda c: ours({**c, "typ": "refresh"}),
        "refresh token as access": lambda c: tokens["refresh_token"],
        "access claims under the refresh key": lambda c: ours(c, kind="refresh"),
        "unknown tenant": lambda c: ours({**c, "tenant": "T-DOES-NOT-EXIST"}),
        "unknown user": lambda c: ours({**c, "sub": "U-DOES-NOT-EXIST"}),
        "another tenant's user id": lambda c: ours({**c, "sub": world.id("student") + "X"}),
        "oversized": lambda c: ours({**c, "pad": "x" * 8000}),
        "truncated signature": lambda c: ours(c)[:-4],
        "not a jwt": lambda c: "not.a.jwt",
        "empty": lambda c: "",
        "garbage bytes": lambda c: "\u00ff\u00fe" * 10,
    }
    for claim in ("sub", "tenant", "role", "av", "iss", "aud", "exp", "iat", "jti", "typ"):
        cases[f"{claim} missing"] = without(claim)
    return cases


def test_every_attack_is_401_on_reads_writes_and_admin_routes(
    module_api: Api, world: World, tokens: dict[str, str]
):
    genuine = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    cases = attacks(world, tokens)
    assert len(cases) >= 40
    failures = []
    for name, make in cases.items():
        token = make(dict(genuine))
        for method, path, body in ROUTES:
            r = module_api.call(
                method, path, json_body=body, headers={"Authorization": f"Bearer {token}"}
            )
            if r.status != 401 or r.error_code != "unauthorized":
                failures.append((name, method, path, r.status))
    assert failures == []
    # The genuine token works on all three, so the 401s above are the attacks' doing.
    for method, path, body in ROUTES:
        r = module_api.call(method, path, json_body=body, token=tokens["access_token"])
        assert r.status in (200, 201), (method, path, r.body)


def test_an_access_token_is_no_refresh_token(module_api: Api, tokens: dict[str, str]):
    for route in ("/auth/refresh", "/auth/logout"):
        r = module_api.post(route, {"refresh_token": tokens["access_token"]})
        assert r.status == 401 and r.error_code == "unauthorized"
