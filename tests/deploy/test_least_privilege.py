"""Each function's role allows exactly what that function does.

The static rules hold for every stage. The proof runs after the whole suite (``make test``'s
second pytest step, ``pytest --aws-calls-check tests/deploy``): every AWS call each function
made across the suite (recorded by ``tests/support/aws_calls.py``) is allowed by that
function's packaged policy, and every grant was used by some test, apart from what AWS itself
does with the role (logs, event source mappings), which the template's own event sources and
log groups determine.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from tests.deploy.cloudformation import (
    STAGES,
    Grant,
    Resolver,
    Templates,
    allows,
    arn_of,
    functions,
    grants,
    infrastructure_grants,
    matches,
    role_of,
)
from tests.support.aws_calls import read_records

AUDIT_WRITES = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
    "dynamodb:DeleteTable",
    "dynamodb:UpdateTable",
)


def _policies(
    template: dict[str, Any], parameters: dict[str, str] | None = None
) -> dict[str, list[Grant]]:
    resolve = Resolver(template, parameters)
    return {name: grants(template, fn, resolve) for name, fn in functions(template).items()}


@pytest.mark.parametrize("stage", STAGES)
def test_each_function_has_its_own_role_and_no_wildcard_resource(
    expanded: Templates, stage: str
) -> None:
    template = expanded[stage]
    names = functions(template)
    roles = {role_of(template, function) for function in names.values()}
    assert len(roles) == len(names)  # one role per function, none shared
    for name, granted in _policies(template).items():
        # Every action here has resource-level permissions: none needs "*".
        assert granted and all(g.resource != "*" for g in granted), name
        assert all("*" not in g.action for g in granted), name


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_audit_writer_appends_to_the_audit_table_and_nobody_deletes(
    expanded: Templates, stage: str
) -> None:
    template = expanded[stage]
    resolve = Resolver(template)
    audit = resolve({"Fn::GetAtt": ["AuditTable", "Arn"]})
    for name, granted in _policies(template).items():
        for action in AUDIT_WRITES:
            allowed = allows(granted, action, audit)
            assert allowed == (name == "record_audit" and action == "dynamodb:PutItem"), (
                name,
                action,
            )


@pytest.mark.parametrize("stage", STAGES)
def test_stream_consumers_can_hand_failed_records_to_the_stream_dlq(
    expanded: Templates, stage: str
) -> None:
    template = expanded[stage]
    dlq = Resolver(template)({"Fn::GetAtt": ["StreamDLQ", "Arn"]})
    policies = _policies(template)
    for name in ("record_audit", "dispatch_events"):
        assert allows(policies[name], "sqs:SendMessage", dlq)
    assert not allows(policies["api_handler"], "sqs:SendMessage", dlq)


def test_every_stage_grants_the_same(expanded: Templates) -> None:
    def shape(stage: str) -> dict[str, set[tuple[str, str]]]:
        # The same parameter values everywhere: only the stage's defaults may differ.
        same = {"SenderEmail": "sender@example.com"}
        policies = _policies(expanded[stage], same)
        return {k: {(g.action, g.resource) for g in v} for k, v in policies.items()}

    assert shape("local") == shape("dev") == shape("staging") == shape("prod")


# -- the proof: what the suite did, against what the policies allow -----------------------------


@pytest.fixture(scope="module")
def recorded() -> list[dict[str, Any]]:
    records = read_records()
    assert records, "no AWS calls recorded: run the whole suite first (make test does)"
    return records


def _resolved_call(
    template: dict[str, Any], resolve: Resolver, record: dict[str, Any]
) -> tuple[str, str]:
    """A record as (function, resource ARN), through the variable that named the resource in
    the function's packaged environment."""
    function = functions(template)[record["function"]]
    variable = record["resource"]
    assert not variable.startswith("?"), f"{record}: a resource the template does not hand over"
    if not variable:
        return function, "*"
    environment = template["Resources"][function]["Properties"]["Environment"]["Variables"]
    assert variable in environment, f"{record}: the function is not told {variable}"
    return function, arn_of(
        record["action"], str(resolve(environment[variable])), record["qualifier"]
    )


@pytest.mark.aws_calls_check
def test_every_call_a_function_made_is_allowed_by_its_policy(
    expanded: Templates, recorded: list[dict[str, Any]]
) -> None:
    template = expanded["prod"]
    resolve = Resolver(template)
    policies = _policies(template)
    denied = []
    for record in recorded:
        _, arn = _resolved_call(template, resolve, record)
        if not allows(policies[record["function"]], record["action"], arn):
            denied.append(
                f"{record['function']}: {record['action']} on {arn} ({record['first_test']})"
            )
    assert not denied, "calls the packaged policies would deny:\n" + "\n".join(denied)


@pytest.mark.aws_calls_check
def test_every_grant_was_used_by_a_test_or_by_aws_itself(
    expanded: Templates, recorded: list[dict[str, Any]]
) -> None:
    template = expanded["prod"]
    resolve = Resolver(template)
    calls: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for record in recorded:
        _, arn = _resolved_call(template, resolve, record)
        calls[record["function"]].append((record["action"], arn))
    unused = []
    for name, granted in _policies(template).items():
        assert calls[name], f"{name} made no recorded call: was the whole suite run?"
        infrastructure = infrastructure_grants(template, functions(template)[name], resolve)
        for grant in granted:
            if (grant.action, grant.resource) in infrastructure:
                continue
            used = any(
                matches(grant.action, action, case=False) and matches(grant.resource, arn)
                for action, arn in calls[name]
            )
            if not used:
                unused.append(f"{name}: {grant.action} on {grant.resource} ({grant.sid})")
        # ... and what AWS does with the role is granted, exactly where it is needed.
        for (action, resource), why in infrastructure.items():
            assert Grant("", action, resource) in {
                Grant("", g.action, g.resource) for g in granted
            }, f"{name}: {action} on {resource} is missing ({why})"
    assert not unused, "granted but never used by any test:\n" + "\n".join(unused)
