"""Auth schemas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, StringConstraints

from chalicelib.models import examples as ex
from chalicelib.models.common import Email, Out, StrictModel

TokenStr = Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class LoginIn(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tenant": "riverside",
                    "email": "ada@riverside.example",
                    "password": "correct horse battery staple",
                }
            ]
        }
    )

    tenant: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    email: Email
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class RefreshIn(StrictModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"refresh_token": ex.REFRESH_TOKEN}]})

    refresh_token: TokenStr


class Tokens(Out):
    model_config = ConfigDict(json_schema_extra={"examples": [ex.TOKENS]})

    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


# --- what the data layer hands the auth rules (never leaves the server) ----------------------
@dataclass(frozen=True)
class Credential:
    """A user's password hash, found by (tenant, email)."""

    user_id: str
    password_hash: str


@dataclass(frozen=True)
class LoginWindow:
    """Where one login attempt is counted, and how many each counter allows: the (account,
    client address) counter of the current short window and the account's counter of the
    current long window (window numbers count windows since the epoch)."""

    client: str
    client_window: int
    client_limit: int
    account_window: int
    account_limit: int
    #: When the account's counter may be forgotten (the end of its long window).
    expires: datetime


@dataclass(frozen=True)
class Lockout:
    """Why an attempt was not counted: the client's counter, the account's, or both are full."""

    client: bool
    account: bool
