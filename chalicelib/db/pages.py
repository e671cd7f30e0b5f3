"""Opaque, signed cursors bound to the tenant and the query that made them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from chalicelib.errors import BadRequest
from chalicelib.secrets import derived_key

_BAD = "The cursor is not valid for this request."


def _sign(payload: bytes) -> str:
    mac = hmac.new(derived_key("cursor"), payload, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def encode_cursor(
    last_evaluated_key: dict[str, Any] | None, *, tenant_id: str, scope: str
) -> str | None:
    if not last_evaluated_key:
        return None
    payload = json.dumps(
        {"t": tenant_id, "s": scope, "k": last_evaluated_key}, separators=(",", ":")
    ).encode()
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{body}.{_sign(payload)}"


def decode_cursor(cursor: str | None, *, tenant_id: str, scope: str) -> dict[str, Any] | None:
    """The exclusive start key, or ``None``; a tampered or foreign cursor is a 400."""
    if not cursor:
        return None
    try:
        body, signature = cursor.split(".", 1)
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        if not hmac.compare_digest(signature, _sign(payload)):
            raise ValueError("signature")
        data = json.loads(payload)
        if data["t"] != tenant_id or data["s"] != scope or not isinstance(data["k"], dict):
            raise ValueError("scope")
        return dict(data["k"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise BadRequest(_BAD) from exc
