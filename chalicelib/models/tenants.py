"""Tenant schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints

from chalicelib.models import examples as ex
from chalicelib.models.auth import Tokens
from chalicelib.models.common import JSON_INT, Email, Name, Out, Password, StrictModel
from chalicelib.models.scheduling import TimeZoneName
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
    time_zone: str = "UTC"
    min_notice_minutes: int = 120
    booking_horizon_days: int = 90
    reminder_minutes_before: int | None = 1440


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
    time_zone: TimeZoneName | None = None
    min_notice_minutes: Annotated[int, Field(ge=0, le=10080), JSON_INT] | None = None
    booking_horizon_days: Annotated[int, Field(ge=1, le=365), JSON_INT] | None = None
    reminder_minutes_before: Annotated[int, Field(ge=15, le=10080), JSON_INT] | None = Field(
        default=None,
        description=(
            "Minutes before a session its reminder goes out; null: none. Applies to sessions "
            "assigned after the change (each keeps the lead it was assigned with)."
        ),
    )

    def scheduling_changes(self) -> dict[str, Any]:
        """The scheduling settings the patch names (an explicit null reminder turns it off)."""
        names = ("time_zone", "min_notice_minutes", "booking_horizon_days")
        out: dict[str, Any] = {n: getattr(self, n) for n in names if getattr(self, n) is not None}
        if "reminder_minutes_before" in self.model_fields_set:
            out["reminder_minutes_before"] = self.reminder_minutes_before
        return out
