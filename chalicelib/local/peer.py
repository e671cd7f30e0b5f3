"""The caller's real address in the local stack's API events, as API Gateway gives it.

Chalice's local gateway puts a constant ``127.0.0.1`` into ``requestContext.identity.sourceIp``.
The login throttle counts attempts per account *and client address*, so the local stack must
pass the connection's real peer address, as API Gateway passes the client's source IP.
:func:`peer_aware` wraps the local server's request handler class to do that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Event = dict[str, Any]


def set_source_ip(gateway: Any, source_ip: Callable[[], str]) -> None:
    """Make ``gateway`` (a ``chalice.local.LocalGateway``) put ``source_ip()`` into every
    event it builds."""
    converter = gateway.event_converter
    create = converter.create_lambda_event

    def create_with_source_ip(*args: Any, **kwargs: Any) -> Event:
        event: Event = create(*args, **kwargs)
        event["requestContext"].setdefault("identity", {})["sourceIp"] = source_ip()
        return event

    converter.create_lambda_event = create_with_source_ip


def peer_aware(handler_cls: type[Any]) -> type[Any]:
    """A subclass of a Chalice local request handler whose events name the connection's peer."""

    class PeerAwareHandler(handler_cls):  # type: ignore[misc]
        def setup(self) -> None:
            # Runs once per connection, after the handler built its gateway, before handling.
            super().setup()
            set_source_ip(self.local_gateway, lambda: str(self.client_address[0]))

    PeerAwareHandler.__name__ = f"PeerAware{handler_cls.__name__}"
    return PeerAwareHandler
