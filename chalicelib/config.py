"""The one place that reads the environment.

Every other module asks :func:`get_settings`; tests and the local stack change the
environment and call :func:`reset_settings`.

The defaults name the local stack's resources. A deployed stage (any ``STAGE`` other than
``local`` or ``test``) gets every resource name, the secret's ARN, the sender and the frontend
URL from its template (``infra/deploy.json``) and refuses to start when one is missing: the
first :func:`get_settings` (at import, on a cold start) raises an error naming the variables.

Each field reads the environment variable of its name in upper case (``MAIN_TABLE``), or the
names :data:`ENVIRONMENT_NAMES` lists; values given to ``Settings(...)`` win over the
environment. A plain pydantic model does it: ``pydantic-settings`` cost every function's cold
start about 40 ms (it imports asyncio and every settings source it supports) to do the same.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

#: Stages that run offline (the local stack, the test suite): local defaults are fine there.
OFFLINE_STAGES = frozenset({"local", "test"})

#: What a deployed stage must be told (by its template), by field; the error names the variable.
DEPLOYED_REQUIRED = (
    "main_table",
    "audit_table",
    "idempotency_table",
    "notifications_queue_url",
    "escalation_queue_url",
    "expiry_queue_url",
    "reminder_queue_url",
    "jwt_secret_arn",
    "email_sender",
    "app_url",
    "cors_allow_origins",
)

#: Fields read from other variables than their own name in upper case (the first one set wins).
ENVIRONMENT_NAMES = {"aws_region": ("AWS_REGION", "AWS_DEFAULT_REGION")}


def from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The settings the environment sets, by field name (variable names are case-insensitive)."""
    upper = {name.upper(): value for name, value in environ.items()}
    values: dict[str, str] = {}
    for field in Settings.model_fields:
        for name in ENVIRONMENT_NAMES.get(field, (field.upper(),)):
            if name in upper:
                values[field] = upper[name]
                break
    return values


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    #: ``local`` / ``test`` run offline; any other stage is deployed and must be told everything.
    stage: str = "local"
    aws_region: str = "us-east-1"
    #: An emulator's endpoint (the local stack and some tests); None on AWS.
    aws_endpoint_url: str | None = None
    #: Set by the Lambda runtime; the exactly-once mailer's record keys start with it.
    aws_lambda_function_name: str = "test-func"

    # Resources: the local stack's names by default (it and the tests create them from
    # infra/resources.json and set these variables); deployed stages get them from the template.
    main_table: str = "tutorbook-local-MainTable"
    #: Read only when the app is imported, by the stream decorators: the local stack's pump
    #: reads the table from it and follows that table's current stream; on AWS the template
    #: maps the real stream itself. (No account: nothing here names one.)
    main_table_stream_arn: str = (
        "arn:aws:dynamodb:us-east-1::table/tutorbook-local-MainTable/stream/local"
    )
    audit_table: str = "tutorbook-local-AuditTable"
    idempotency_table: str = "tutorbook-local-IdempotencyTable"
    notifications_queue: str = "tutorbook-local-NotificationsQueue"
    notifications_queue_url: str = ""
    escalation_queue: str = "tutorbook-local-EscalationQueue"
    escalation_queue_url: str = ""
    expiry_queue: str = "tutorbook-local-ExpiryQueue"
    expiry_queue_url: str = ""
    reminder_queue: str = "tutorbook-local-ReminderQueue"
    reminder_queue_url: str = ""

    # Auth.
    jwt_secret: SecretStr | None = None
    jwt_secret_arn: str | None = None
    #: How long a read of the secret is reused; a rotated secret is in use after this long.
    jwt_secret_cache_seconds: int = Field(default=300, ge=0, le=3600)
    jwt_issuer: str = "tutorbook"
    jwt_audience: str = "tutorbook-api"
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    #: Login attempts: at most ``login_max_failures`` passwords checked per account and client
    #: address in each ``login_window_seconds`` window, and at most ``login_account_max_failures``
    #: failures per account in each ``login_account_window_seconds`` window from all addresses.
    #: The account window must be a multiple of the client window.
    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=15 * 60, ge=1)
    login_account_max_failures: int = Field(default=100, ge=1)
    login_account_window_seconds: int = Field(default=3600, ge=1)
    #: Reads may act on a user's role and status as cached this long (per container; writes
    #: and admin-only routes always read them fresh). The contract allows at most 60 seconds.
    access_cache_seconds: float = Field(default=30.0, ge=0, le=60)
    #: Account lifecycle: a spent refresh token gets its successor again for this long after
    #: its rotation (two tabs refreshing at once); a login ends this long after it began,
    #: however often it is refreshed; links in emails are valid this long; at most
    #: ``reset_emails_per_hour`` password-reset emails per account and hour.
    refresh_grace_seconds: float = Field(default=10.0, ge=0, le=60)
    session_lifetime_seconds: int = Field(default=30 * 24 * 3600, ge=60)
    invitation_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    password_reset_ttl_seconds: int = Field(default=30 * 60, ge=60)
    reset_emails_per_hour: int = Field(default=3, ge=1)

    # HTTP.
    cors_allow_origins: list[str] = ["*"]
    max_body_bytes: int = 64 * 1024
    #: GET /health asks the database at most this often per container (a cheap, bounded check).
    health_cache_seconds: float = Field(default=5.0, ge=0)

    # DynamoDB client limits: an unreachable or hanging database answers 503 within seconds.
    dynamodb_connect_timeout_seconds: float = Field(default=2.0, gt=0)
    dynamodb_read_timeout_seconds: float = Field(default=5.0, gt=0)
    dynamodb_max_retry_attempts: int = Field(default=2, ge=0, le=10)

    # Email: the verified SES identity mails are sent from; links point at the frontend.
    email_sender: str = "no-reply@tutorbook.example"
    app_url: str = "http://127.0.0.1:3000"
    ses_configuration_set: str | None = None

    # Bookings / escalation.
    default_escalate_after_minutes: int = 1440
    idempotency_ttl_seconds: int = 24 * 3600
    #: At most this many due bookings are queued per run of the escalation finder.
    escalation_find_limit: int = Field(default=500, ge=1, le=10000)
    #: At most this many started bookings are queued per run of the expiry finder.
    expiry_find_limit: int = Field(default=500, ge=1, le=10000)
    #: At most this many due reminders are queued per run of the reminder finder.
    reminder_find_limit: int = Field(default=500, ge=1, le=10000)

    # Local stack (`make dev`, chalicelib/local/): ports, schedule period, state directory.
    port: int = 8000
    moto_port: int = 5000
    local_schedule_seconds: float = Field(default=15.0, gt=0)
    local_state_dir: str = ".local"
    local_parent_pid: int | None = None  # the local stack exits when this process is gone

    @model_validator(mode="before")
    @classmethod
    def _environment(cls, data: Any) -> Any:
        """The environment's values, under the ones given explicitly."""
        if not isinstance(data, dict):
            return data
        return {**from_environment(os.environ), **data}

    @model_validator(mode="after")
    def _windows_nest(self) -> Settings:
        if self.login_account_window_seconds % self.login_window_seconds:
            raise ValueError(
                "LOGIN_ACCOUNT_WINDOW_SECONDS must be a multiple of LOGIN_WINDOW_SECONDS"
            )
        return self

    @field_validator("cors_allow_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

    @field_validator("app_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _deployed_stages_are_told_everything(self) -> Settings:
        """A deployed stage never falls back to a local default: it names what is missing."""
        if self.stage in OFFLINE_STAGES:
            return self
        missing = [
            name.upper()
            for name in DEPLOYED_REQUIRED
            if name not in self.model_fields_set or not getattr(self, name)
        ]
        if missing:
            raise ValueError(
                f"stage {self.stage!r} cannot start without {', '.join(missing)} "
                "(its deployment template sets them)"
            )
        if self.jwt_secret is not None:
            raise ValueError(
                f"stage {self.stage!r} reads its signing secret through JWT_SECRET_ARN; "
                "JWT_SECRET must not be set there"
            )
        if "*" in self.cors_allow_origins:
            raise ValueError(f"stage {self.stage!r} must list its CORS_ALLOW_ORIGINS, not '*'")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    get_settings.cache_clear()
