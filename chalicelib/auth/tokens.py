"""JWT access and refresh tokens (pyjwt, HS256 pinned, every claim required, kind checked)."""

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
    ACCESS: ["sub", "tenant", "role", "iss", "aud", "exp", "iat", "jti", "typ"],
    REFRESH: ["sub", "tenant", "fam", "iss", "aud", "exp", "iat", "jti", "typ"],
}


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, from a verified access token."""

    user_id: str
    tenant_id: str
    role: Role


@dataclass(frozen=True)
class RefreshClaims:
    user_id: str
    tenant_id: str
    family_id: str
    token_hash: str


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


def _decode(token: str, kind: str) -> dict[str, Any]:
    settings = get_settings()
    try:
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
        raise Unauthorized("The token is missing, invalid or expired.") from exc
    if claims.get("typ") != kind:
        raise Unauthorized("The token is missing, invalid or expired.")
    for name in _REQUIRED[kind]:
        if name not in ("exp", "iat") and not isinstance(claims.get(name), str):
            raise Unauthorized("The token is missing, invalid or expired.")
    return claims


def issue_access(user_id: str, tenant_id: str, role: Role, now: datetime) -> str:
    ttl = get_settings().access_token_ttl_seconds
    return _encode({"sub": user_id, "tenant": tenant_id, "role": role.value}, ACCESS, now, ttl)


def issue_refresh(user_id: str, tenant_id: str, family_id: str, now: datetime) -> str:
    ttl = get_settings().refresh_token_ttl_seconds
    return _encode({"sub": user_id, "tenant": tenant_id, "fam": family_id}, REFRESH, now, ttl)


def verify_access(token: str) -> Principal:
    claims = _decode(token, ACCESS)
    try:
        role = Role(claims["role"])
    except ValueError as exc:
        raise Unauthorized("The token is missing, invalid or expired.") from exc
    return Principal(user_id=claims["sub"], tenant_id=claims["tenant"], role=role)


def verify_refresh(token: str) -> RefreshClaims:
    claims = _decode(token, REFRESH)
    return RefreshClaims(
        user_id=claims["sub"],
        tenant_id=claims["tenant"],
        family_id=claims["fam"],
        token_hash=token_hash(token),
    )


def token_hash(token: str) -> str:
    """What is stored of a refresh token: its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()
