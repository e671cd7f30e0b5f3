"""User schemas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from chalicelib.models.common import Email, ListQuery, Name, Out, Password, StrictModel


class Role(StrEnum):
    student = "student"
    instructor = "instructor"
    admin = "admin"


class User(Out):
    id: str
    tenant_id: str
    email: str
    name: str
    role: Role
    active: bool
    created_at: datetime


class CreateUserIn(StrictModel):
    email: Email
    name: Name
    role: Role
    password: Password


class UserPatchIn(StrictModel):
    name: Name | None = None
    role: Role | None = None
    active: bool | None = None


class UserListQuery(ListQuery):
    role: Role | None = None


# --- what the data layer hands the access rule (never leaves the server) ---------------------
@dataclass(frozen=True)
class Access:
    """What a user may do now: the current role and status, and the authorization version
    every token of the user must carry (raised when all of the user's logins are ended)."""

    role: Role
    active: bool
    auth_version: int
