"""JWT access and refresh tokens (pyjwt, HS256 pinned, every claim required, kind checked).

Besides the signature, issuer, audience and times, a token is refused when its header carries
anything but ``alg`` and ``typ`` (no ``kid``, ``jku``, ``jwk``, ``x5u`` ...: the key is ours,
never the token's to name), when it is longer than :data:`MAX_TOKEN_CHARS`, when a claim has
the wrong type, or when it claims to live longer than its kind's lifetime after ``iat``. The
``av`` claim is the user's authorization version when the token was issued: ending all of a
user's logins raises the version, and every older token stops working. An access token also
names its login (``sid``, the refresh-token family it came from), so a user's list of logins
can mark the current one.

A refresh token made by a rotation is derived from the token it replaces (its ``jti`` is an
HMAC of the spent token's hash, its times are the rotation's): whoever presents the spent token
again within the grace period is handed the very same successor, without the successor ever
being stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.config import get_settings
from chalicelib.errors import Unauthorized
from chalicelib.models.users import Role
from chalicelib.secrets import derived_key


@contextmanager
def _without_cryptography() -> Iterator[None]:
    """PyJWT imports ``cryptography`` when it is installed, for RSA and EC keys (about 35 ms of a
    cold start). Tokens are HS256 only (no RSA key can be configured), so PyJWT is loaded with
    that import failing, as if it were absent. A process that already loaded either keeps it.
    Imported by the first token use, so a function that never sees one never loads PyJWT."""
    if "jwt" in sys.modules or "cryptography" in sys.modules:
        yield
        return
    sys.modules["cryptography"] = None  # type: ignore[assignment]  # makes the import fail
    try:
        yield
    finally:
        del sys.modules["cryptography"]


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
    #: The login (refresh-token family) the token was issued for, when it names one.
    session_id: str | None = None


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


def _encode(
    claims: dict[str, Any],
    kind: str,
    now: datetime,
    ttl: int,
    *,
    jti: str | None = None,
    not_after: datetime | None = None,
) -> str:
    settings = get_settings()
    expires = now + timedelta(seconds=ttl)
    if not_after is not None and not_after < expires:
        expires = not_after
    body = {
        **claims,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": int(now.timestamp()),
        "exp": max(int(expires.timestamp()), int(now.timestamp()) + 1),
        "jti": jti or secrets.token_urlsafe(16),
        "typ": kind,
    }
    with _without_cryptography():
        import jwt

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
    with _without_cryptography():
        import jwt

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
    user_id: str,
    tenant_id: str,
    role: Role,
    now: datetime,
    *,
    auth_version: int = 0,
    session_id: str | None = None,
) -> str:
    claims: dict[str, Any] = {
        "sub": user_id,
        "tenant": tenant_id,
        "role": role.value,
        "av": auth_version,
    }
    if session_id is not None:
        claims["sid"] = session_id
    return _encode(claims, ACCESS, now, _ttl(ACCESS))


def issue_refresh(
    user_id: str,
    tenant_id: str,
    family_id: str,
    now: datetime,
    *,
    auth_version: int = 0,
    not_after: datetime | None = None,
    replaces: str | None = None,
) -> str:
    """A refresh token of login ``family_id``, expiring at ``not_after`` at the latest (the
    login's end). ``replaces``: the hash of the token this one succeeds; the successor is then
    a function of it and of ``now`` (seconds), so it can be made again identically."""
    claims = {"sub": user_id, "tenant": tenant_id, "fam": family_id, "av": auth_version}
    jti = _successor_jti(replaces) if replaces is not None else None
    moment = datetime.fromtimestamp(int(now.timestamp()), now.tzinfo)
    return _encode(claims, REFRESH, moment, _ttl(REFRESH), jti=jti, not_after=not_after)


def _successor_jti(spent_hash: str) -> str:
    digest = hmac.new(derived_key("jwt:refresh-successor"), spent_hash.encode(), "sha256")
    return base64.urlsafe_b64encode(digest.digest()[:16]).rstrip(b"=").decode()


def verify_access(token: str) -> Principal:
    claims = _decode(token, ACCESS)
    try:
        role = Role(claims["role"])
    except ValueError as exc:
        raise _invalid() from exc
    session_id = claims.get("sid")
    if session_id is not None and not isinstance(session_id, str):
        raise _invalid()
    return Principal(
        user_id=claims["sub"],
        tenant_id=claims["tenant"],
        role=role,
        auth_version=claims["av"],
        session_id=session_id,
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
