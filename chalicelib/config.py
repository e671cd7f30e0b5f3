"""The one place that reads the environment.

Every other module asks :func:`get_settings`; tests and the local stack change the
environment and call :func:`reset_settings`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    aws_region: str = Field(
        default="us-east-1",
        validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"),
    )

    # Resources (names/ARNs/URLs come from infra/resources.json via the stage's config).
    main_table: str = "tutorbook-local-MainTable"
    main_table_stream_arn: str = (
        "arn:aws:dynamodb:us-east-1:123456789012:table/tutorbook-local-MainTable/stream/local"
    )
    audit_table: str = "tutorbook-local-AuditTable"
    idempotency_table: str = "tutorbook-local-IdempotencyTable"
    notifications_queue: str = "tutorbook-local-NotificationsQueue"
    notifications_queue_url: str = ""
    escalation_queue: str = "tutorbook-local-EscalationQueue"
    escalation_queue_url: str = ""

    # Auth.
    jwt_secret: SecretStr | None = None
    jwt_secret_arn: str | None = None
    jwt_issuer: str = "tutorbook"
    jwt_audience: str = "tutorbook-api"
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    login_max_failures: int = 5
    login_window_seconds: int = 15 * 60

    # HTTP.
    cors_allow_origins: Annotated[list[str], NoDecode] = ["*"]
    max_body_bytes: int = 64 * 1024

    # Email.
    email_sender: str = "no-reply@tutorbook.example"
    ses_configuration_set: str | None = None

    # Bookings / escalation.
    default_escalate_after_minutes: int = 1440
    idempotency_ttl_seconds: int = 24 * 3600
    #: At most this many due bookings are queued per run of the escalation finder.
    escalation_find_limit: int = Field(default=500, ge=1, le=10000)

    # Local stack (`make dev`, chalicelib/local/): ports, schedule period, state directory.
    port: int = 8000
    moto_port: int = 5000
    local_schedule_seconds: float = Field(default=15.0, gt=0)
    local_state_dir: str = ".local"
    local_parent_pid: int | None = None  # the local stack exits when this process is gone

    @field_validator("cors_allow_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    get_settings.cache_clear()
