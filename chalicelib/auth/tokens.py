"""JWT access and refresh tokens (pyjwt, HS256 pinned, every claim required, kind checked).

Besides the signature, issuer, audience and times, a token is refused when its header carries
anything but ``alg`` and ``typ`` (no ``kid``, ``jku``, ``jwk``, ``x5u`` ...: the key is ours,
never the token's to name), when it is longer than :data:`MAX_TOKEN_CHARS`, when a claim has
the wrong type, or when it claims to live longer than its kind's lifetime after ``iat``. The
``av`` claim is the user's authorization version when the token was issued: ending all of a
user's logins raises the version, and every older token stops working.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from chalicelib.config import get_settings
from chalicelib.errors import Unauthorized
from chalicelib.models.users import Role
from chalicelib.secrets import derived_key

ALGORITHM = "HS256"
ACCESS = "access"
REFRESH = "refresh"
_REQUIRED = {
    ACCESS: ["sub", "tenant", "role", "av", "iss", "aud", "exp", "iat", "jti", "typ"],
    REFRESH: ["sub", "tenant", "fam", "av", "iss", "aud", "exp", "iat", "jti", "typ"],
}
_INTEGER_CLAIMS = frozenset({"av", "exp", "iat"})
_HEADER_FIELDS = frozenset({"alg", "typ"})
#: Longer tokens are refused before any parsing (ours are about 400 characters).
MAX_TOKEN_CHARS = 2048


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, from a verified access token."""

    user_id: str
    tenant_id: str
    role: Role
    #: The user's authorization version when the token was issued.
    auth_version: int = 0


@dataclass(frozen=True)
class RefreshClaims:
    user_id: str
    tenant_id: str
    family_id: str
    token_hash: str
    auth_version: int = 0


def _key(kind: str) -> bytes:
    # Distinct keys per kind: even a token whose `typ` were forged could not cross over.
    return derived_key(f"jwt:{kind}")


def _encode(claims: dict[str, Any], kind: str, now: datetime, ttl: int) -> str:
    settings = get_settings()
    body = {
        **claims,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
        "jti": secrets.token_urlsafe(16),
        "typ": kind,
    }
    return jwt.encode(body, _key(kind), algorithm=ALGORITHM)


def _invalid() -> Unauthorized:
    return Unauthorized("The token is missing, invalid or expired.")


def _ttl(kind: str) -> int:
    settings = get_settings()
    return (
        settings.access_token_ttl_seconds if kind == ACCESS else settings.refresh_token_ttl_seconds
    )


def _decode(token: str, kind: str) -> dict[str, Any]:
    settings = get_settings()
    if len(token) > MAX_TOKEN_CHARS:
        raise _invalid()
    try:
        header = jwt.get_unverified_header(token)
        if not set(header) <= _HEADER_FIELDS:
            raise _invalid()
        claims: dict[str, Any] = jwt.decode(
            token,
            _key(kind),
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": _REQUIRED[kind]},
            leeway=5,
        )
    except jwt.PyJWTError as exc:
        raise _invalid() from exc
    if claims.get("typ") != kind:
        raise _invalid()
    for name in _REQUIRED[kind]:
        value = claims.get(name)
        if name in _INTEGER_CLAIMS:
            if not isinstance(value, int) or isinstance(value, bool):
                raise _invalid()
        elif not isinstance(value, str):
            raise _invalid()
    if not 0 < claims["exp"] - claims["iat"] <= _ttl(kind):
        raise _invalid()  # a lifetime we never issue: made with a stolen key, or tampered
    return claims


def issue_access(
    user_id: str, tenant_id: str, role: Role, now: datetime, *, auth_version: int = 0
) -> str:
    claims = {"sub": user_id, "tenant": tenant_id, "role": role.value, "av": auth_version}
    return _encode(claims, ACCESS, now, _ttl(ACCESS))


def issue_refresh(
    user_id: str, tenant_id: str, family_id: str, now: datetime, *, auth_version: int = 0
) -> str:
    claims = {"sub": user_id, "tenant": tenant_id, "fam": family_id, "av": auth_version}
    return _encode(claims, REFRESH, now, _ttl(REFRESH))


def verify_access(token: str) -> Principal:
    claims = _decode(token, ACCESS)
    try:
        role = Role(claims["role"])
    except ValueError as exc:
        raise _invalid() from exc
    return Principal(
        user_id=claims["sub"],
        tenant_id=claims["tenant"],
        role=role,
        auth_version=claims["av"],
    )


def verify_refresh(token: str) -> RefreshClaims:
    claims = _decode(token, REFRESH)
    return RefreshClaims(
        user_id=claims["sub"],
        tenant_id=claims["tenant"],
        family_id=claims["fam"],
        token_hash=token_hash(token),
        auth_version=claims["av"],
    )


def token_hash(token: str) -> str:
    """What is stored of a refresh token: its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()
