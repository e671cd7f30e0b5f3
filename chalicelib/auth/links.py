"""Tokens for links in emails (invitations, password resets).

A link token is an HMAC, under a key derived from the application secret, of a random link id
(128 bits from :func:`secrets.token_urlsafe`): 256 random-looking bits, URL-safe. The table
keeps only the token's SHA-256 (the link's key) and the link id; the email sender derives the
token again from the id, so the token itself is never stored, queued, logged or audited.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from chalicelib.secrets import derived_key

#: Longer values are not ours and are refused before any work.
MAX_LINK_TOKEN_CHARS = 128


def new_link_id() -> str:
    return secrets.token_urlsafe(16)


def link_token(tenant_id: str, link_id: str) -> str:
    digest = hmac.new(derived_key("account-link"), f"{tenant_id}:{link_id}".encode(), "sha256")
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def link_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
