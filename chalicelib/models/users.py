"""User schemas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import ConfigDict, Field

from chalicelib.models import examples as ex
from chalicelib.models.common import (
    Email,
    JsonBool,
    ListQuery,
    Name,
    Out,
    Password,
    StrictModel,
)
from chalicelib.models.scheduling import TimeZoneName


class Role(StrEnum):
    student = "student"
    instructor = "instructor"
    admin = "admin"


class User(Out):
    model_config = ConfigDict(json_schema_extra={"examples": [ex.STUDENT]})

    id: str
    tenant_id: str
    email: str
    name: str
    role: Role
    active: bool
    created_at: datetime
    #: Invited and not yet accepted (no password yet; cannot log in).
    invitation_pending: bool = False
    time_zone: str | None = Field(
        default=None, description="IANA time zone for the user's emails; null: the tenant's."
    )


class CreateUserIn(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "sam@riverside.example",
                    "name": "Sam Student",
                    "role": "student",
                    "password": "sam's long passphrase",
                }
            ]
        }
    )

    email: Email
    name: Name
    role: Role
    #: Without it, the user is invited by email and chooses their own.
    password: Password | None = None


class UserPatchIn(StrictModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Samantha Student"}]})

    name: Name | None = None
    role: Role | None = None
    active: JsonBool | None = None
    time_zone: TimeZoneName | None = Field(
        default=None,
        description="The user's own IANA zone (themself only); null: the tenant's.",
    )


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
