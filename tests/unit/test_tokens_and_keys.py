"""Token and key primitives."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.auth import tokens
from chalicelib.clock import utcnow
from chalicelib.db import keys
from chalicelib.errors import Unauthorized
from chalicelib.models.users import Role


def test_access_and_refresh_tokens_never_cross():
    now = utcnow()
    access = tokens.issue_access("u1", "t1", Role.student, now)
    refresh = tokens.issue_refresh("u1", "t1", "f1", now)
    assert tokens.verify_access(access).role == "student"
    assert tokens.verify_refresh(refresh).family_id == "f1"
    with pytest.raises(Unauthorized):
        tokens.verify_access(refresh)
    with pytest.raises(Unauthorized):
        tokens.verify_refresh(access)


def test_expired_tokens_are_rejected():
    old = utcnow() - timedelta(days=1)
    with pytest.raises(Unauthorized):
        tokens.verify_access(tokens.issue_access("u1", "t1", Role.admin, old))


def test_keys_refuse_separators():
    assert keys.user_key("T1", "U1") == ("T#T1#USER#U1", "USER")
    for bad in ["a#b", "", "a b", "x\n"]:
        with pytest.raises(ValueError):
            keys.tenant_prefix(bad)
