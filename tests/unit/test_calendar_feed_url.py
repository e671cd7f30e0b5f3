"""Where a calendar feed URL points: the API's public address as API Gateway names it on AWS
(its domain and the path before the route: the stage or a custom domain's base path), never the
client's Host header there; the Host the caller used on the local stack."""

from __future__ import annotations

import pytest

from chalicelib.api.calendar import public_base_url

ROUTE = "/users/me/calendar-feed"


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (  # the execute-api URL of the stage
            {
                "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
                "path": "/api" + ROUTE,
                "resourcePath": ROUTE,
            },
            "https://abc123.execute-api.eu-west-1.amazonaws.com/api",
        ),
        (  # a custom domain mapped at a base path
            {"domainName": "api.school.example", "path": "/v2" + ROUTE, "resourcePath": ROUTE},
            "https://api.school.example/v2",
        ),
        (  # a custom domain mapped at its root
            {"domainName": "api.school.example", "path": ROUTE, "resourcePath": ROUTE},
            "https://api.school.example",
        ),
    ],
)
def test_on_aws_the_url_is_api_gateways_not_the_clients(context, expected):
    assert public_base_url(context, {"host": "evil.example"}) == expected


def test_on_the_local_stack_the_url_is_the_host_the_caller_used():
    local = {"path": ROUTE, "resourcePath": ROUTE}
    assert public_base_url(local, {"host": "127.0.0.1:8123"}) == "http://127.0.0.1:8123"
    assert public_base_url(local, {"host": "[::1]:8000"}) == "http://[::1]:8000"
    # a Host that is no host name is never echoed back
    assert public_base_url(local, {"host": "a.example/x?y"}).startswith("http://127.0.0.1:")
    assert public_base_url(local, {}).startswith("http://127.0.0.1:")
