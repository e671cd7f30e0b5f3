"""Every key format of the main and audit tables. Nothing outside this module builds a key.

Every tenant-owned key begins with ``T#<tenant_id>``; tenant ids and slugs never contain ``#``
(the edge rejects them), so one tenant's prefix can never be read as another's.
"""

from __future__ import annotations

import re

_SAFE = re.compile(r"^[^#\s\x00-\x1f]{1,320}$")


def _part(value: str) -> str:
    if "#" in value or not _SAFE.match(value):
        raise ValueError("key parts may not contain '#' or control characters")
    return value


def tenant_prefix(tenant_id: str) -> str:
    return f"T#{_part(tenant_id)}"


# --- tenants -------------------------------------------------------------------------------
def tenant_key(tenant_id: str) -> tuple[str, str]:
    return tenant_prefix(tenant_id), "TENANT"


def slug_key(slug: str) -> tuple[str, str]:
    """Global registry of slugs (a slug names exactly one tenant, for login and sign-up)."""
    return f"SLUG#{_part(slug)}", "SLUG"


# --- users ---------------------------------------------------------------------------------
def user_key(tenant_id: str, user_id: str) -> tuple[str, str]:
    return f"{tenant_prefix(tenant_id)}#USER#{_part(user_id)}", "USER"


def users_index_pk(tenant_id: str) -> str:
    """gsi1: every user of a tenant, sorted by role then id (role filter = key prefix)."""
    return f"{tenant_prefix(tenant_id)}#USERS"


def users_index_sk(role: str, user_id: str) -> str:
    return f"{_part(role)}#{_part(user_id)}"


def users_index_role_prefix(role: str) -> str:
    return f"{_part(role)}#"


def credential_key(tenant_id: str, email: str) -> tuple[str, str]:
    """One per (tenant, email): makes the email unique in the tenant and holds the hash."""
    return f"{tenant_prefix(tenant_id)}#EMAIL#{_part(email)}", "CREDENTIAL"


def login_throttle_key(tenant_id: str, email: str) -> tuple[str, str]:
    return f"{tenant_prefix(tenant_id)}#EMAIL#{_part(email)}", "THROTTLE"


def token_family_key(tenant_id: str, family_id: str) -> tuple[str, str]:
    return f"{tenant_prefix(tenant_id)}#FAMILY#{_part(family_id)}", "FAMILY"
