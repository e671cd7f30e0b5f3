"""Tenant schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints

from chalicelib.models import examples as ex
from chalicelib.models.auth import Tokens
from chalicelib.models.common import JSON_INT, Email, Name, Out, Password, StrictModel
from chalicelib.models.users import User

Slug = Annotated[
    str,
    StringConstraints(min_length=3, max_length=40, pattern=r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$"),
]
EscalateMinutes = Annotated[int, Field(ge=1, le=10080), JSON_INT]


class Tenant(Out):
    model_config = ConfigDict(json_schema_extra={"examples": [ex.TENANT]})

    id: str
    slug: str
    name: str
    escalate_after_minutes: int = 1440
    created_at: datetime


class AdminIn(StrictModel):
    email: Email
    name: Name
    password: Password


class SignUpIn(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Riverside Tutoring",
                    "slug": "riverside",
                    "admin": {
                        "email": "ada@riverside.example",
                        "name": "Ada Admin",
                        "password": "correct horse battery staple",
                    },
                }
            ]
        }
    )

    name: Name
    slug: Slug
    admin: AdminIn


class SignUpOut(Out):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"tenant": ex.TENANT, "user": ex.ADMIN, "tokens": ex.TOKENS}]
        }
    )

    tenant: Tenant
    user: User
    tokens: Tokens


class TenantPatchIn(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "Riverside Tutoring Ltd", "escalate_after_minutes": 60}]
        }
    )

    name: Name | None = None
    escalate_after_minutes: EscalateMinutes | None = None
