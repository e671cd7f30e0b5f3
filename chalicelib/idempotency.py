"""Run a piece of work at most once per key (Powertools idempotency on the IdempotencyTable).

Two users: ``POST /bookings`` with an ``Idempotency-Key`` (a retry answers the stored booking)
and the mailer (each notification reaches each recipient once). Powertools and its DynamoDB
client are imported lazily: only those paths pay for them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

from chalicelib.config import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

Result = dict[str, Any]


@lru_cache(maxsize=8)
def _persistence_layer(
    table_name: str, region: str, validates_payload: bool
) -> DynamoDBPersistenceLayer:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from botocore.config import Config

    settings = get_settings()
    config = Config(
        region_name=region,
        connect_timeout=settings.dynamodb_connect_timeout_seconds,
        read_timeout=settings.dynamodb_read_timeout_seconds,
        retries={
            "mode": "standard",
            "total_max_attempts": 1 + settings.dynamodb_max_retry_attempts,
        },
    )
    return DynamoDBPersistenceLayer(table_name=table_name, boto_config=config)


def persistence_layer(*, validates_payload: bool) -> DynamoDBPersistenceLayer:
    """The persistence layer on the configured IdempotencyTable, one per container and use.

    Powertools configures a layer once (key and validation expressions) on first use, so work
    that validates its payload and work that does not get a layer each.
    """
    settings = get_settings()
    return _persistence_layer(settings.idempotency_table, settings.aws_region, validates_payload)


def run_once(
    scope: str,
    produce: Callable[[], Result],
    *,
    key_prefix: str,
    payload: Result | None = None,
    lambda_context: Any = None,
) -> Result:
    """Run ``produce`` once per ``scope`` (kept ``idempotency_ttl_seconds``); replay its result.

    The record's key is ``<key_prefix>#<hash of scope>``. With ``payload``, its hash is stored
    too and the same scope with another payload raises Powertools'
    ``IdempotencyValidationError``; a repeat while the first run is still going raises
    ``IdempotencyAlreadyInProgressError``. A failed run leaves no record (a retry runs again).
    """
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

    settings = get_settings()
    config = IdempotencyConfig(
        event_key_jmespath="scope",
        payload_validation_jmespath="payload" if payload is not None else "",
        expires_after_seconds=settings.idempotency_ttl_seconds,
        raise_on_no_idempotency_key=True,
    )
    if lambda_context is not None and hasattr(lambda_context, "get_remaining_time_in_millis"):
        config.register_lambda_context(lambda_context)

    def once(request: Result) -> Result:
        return produce()

    guarded = cast(
        Callable[..., Result],
        idempotent_function(
            data_keyword_argument="request",
            persistence_store=persistence_layer(validates_payload=payload is not None),
            config=config,
            key_prefix=key_prefix,
        )(once),
    )
    request: Result = {"scope": scope}
    if payload is not None:
        request["payload"] = payload
    with warnings.catch_warnings():
        # Outside a Lambda context Powertools cannot see the remaining time; that is fine.
        warnings.filterwarnings("ignore", message="Couldn't determine the remaining time")
        return dict(guarded(request=request))
