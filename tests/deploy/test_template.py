"""Each stage's packaged template, as CloudFormation would create it (after the SAM transform).

What a deployed stack needs to run, roll out safely and keep its data: every function is told
every resource it uses by the template itself; each is published behind a ``live`` alias with a
gradual deployment that alarms roll back; queues give consumers time; tables and queues outlive
the stack; logs are kept for a while; the API edge answers in the error envelope.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chalicelib.config import DEPLOYED_REQUIRED, OFFLINE_STAGES, Settings
from tests.deploy.cloudformation import (
    DEPLOYED_STAGES,
    PROJECT,
    STAGES,
    Resolver,
    Templates,
    depends_on,
    function_behind,
    functions,
    packaged,
    references,
)

ROLLOUT = {
    "local": "CodeDeployDefault.LambdaAllAtOnce",
    "dev": "CodeDeployDefault.LambdaAllAtOnce",
    "staging": "CodeDeployDefault.LambdaCanary10Percent5Minutes",
    "prod": "CodeDeployDefault.LambdaCanary10Percent10Minutes",
}


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_is_told_every_resource_by_the_template(
    expanded: Templates, stage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JWT_SECRET")  # the suite's own; never on a deployed stage
    template = expanded[stage]
    resolve = Resolver(template)
    names = functions(template)
    assert set(names) == {
        "api_handler",
        "record_audit",
        "dispatch_events",
        "send_notifications",
        "find_stale_bookings",
        "escalate_bookings",
        "find_expired_bookings",
        "expire_bookings",
        "find_due_reminders",
        "send_reminders",
    }
    for function in names.values():
        variables = template["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert variables["STAGE"] == stage
        for name in DEPLOYED_REQUIRED:
            value = variables[name.upper()]
            if stage == "local" and name == "cors_allow_origins":
                continue  # the local stage keeps chalice's '*'
            # From the template itself: a Ref/GetAtt of one of its resources or parameters.
            assert isinstance(value, dict), (function, name, value)
            [target] = references(value)
            assert target in template["Resources"] or target in template["Parameters"]
        # ... and configuration accepts what the template hands over on this stage.
        environment = {k: str(resolve(v)) for k, v in variables.items()}
        settings = Settings(**{k.lower(): v for k, v in environment.items()})
        assert settings.main_table == "MainTable"
        assert settings.notifications_queue_url.endswith("/NotificationsQueue")


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_a_deployed_stage_refuses_to_start_without_a_resource_name(
    stage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert stage not in OFFLINE_STAGES
    told = {
        "STAGE": stage,
        "MAIN_TABLE": "t",
        "AUDIT_TABLE": "a",
        "IDEMPOTENCY_TABLE": "i",
        "NOTIFICATIONS_QUEUE_URL": "https://sqs/n",
        "ESCALATION_QUEUE_URL": "https://sqs/e",
        "EXPIRY_QUEUE_URL": "https://sqs/x",
        "REMINDER_QUEUE_URL": "https://sqs/r",
        "JWT_SECRET_ARN": "arn:aws:secretsmanager:r:a:secret:s",
        "EMAIL_SENDER": "no-reply@example.com",
        "APP_URL": "https://app.example.com",
        "CORS_ALLOW_ORIGINS": "https://app.example.com",
    }
    monkeypatch.delenv("JWT_SECRET", raising=False)
    for key, value in told.items():
        monkeypatch.setenv(key, value)
    assert Settings().main_table == "t"
    monkeypatch.delenv("AUDIT_TABLE")
    monkeypatch.setenv("APP_URL", "")
    with pytest.raises(ValueError, match="AUDIT_TABLE, APP_URL"):
        Settings()


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_is_published_behind_an_alias_that_alarms_roll_back(
    expanded: Templates, stage: str
) -> None:
    template = expanded[stage]
    resources = template["Resources"]
    groups = of_type(template, "AWS::CodeDeploy::DeploymentGroup")
    for name, function in functions(template).items():
        [alias] = [
            k
            for k, v in of_type(template, "AWS::Lambda::Alias").items()
            if v["Properties"]["FunctionName"] == {"Ref": function}
        ]
        assert resources[alias]["Properties"]["Name"] == "live"
        [group] = [g["Properties"] for k, g in groups.items() if k == f"{function}DeploymentGroup"]
        assert Resolver(template)(group["DeploymentConfigName"]) == ROLLOUT[stage]
        assert group["AlarmConfiguration"]["Enabled"] is True
        alarms = {a["Name"]["Ref"] for a in group["AlarmConfiguration"]["Alarms"]}
        assert {f"{function}ErrorsAlarm", f"{function}ThrottlesAlarm"} <= alarms
        assert "DEPLOYMENT_STOP_ON_ALARM" in group["AutoRollbackConfiguration"]["Events"]
        # Each alarm watches this function (or what it feeds) and exists in the template.
        for alarm in alarms:
            assert resources[alarm]["Type"] == "AWS::CloudWatch::Alarm"
        if name == "api_handler":
            assert "Api5xxAlarm" in alarms
        if name in ("record_audit", "dispatch_events"):
            assert {f"{function}IteratorAgeAlarm", "StreamDLQDepthAlarm"} <= alarms
        if name == "send_notifications":
            assert "NotificationsDLQDepthAlarm" in alarms
        if name == "escalate_bookings":
            assert "EscalationDLQDepthAlarm" in alarms
        if name == "expire_bookings":
            assert "ExpiryDLQDepthAlarm" in alarms
        if name == "send_reminders":
            assert "ReminderDLQDepthAlarm" in alarms


@pytest.mark.parametrize("stage", STAGES)
def test_the_alarms_watch_errors_throttles_5xx_dlq_depth_and_stream_lag(
    expanded: Templates, stage: str
) -> None:
    template = expanded[stage]
    alarms = of_type(template, "AWS::CloudWatch::Alarm")
    watched = {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in alarms.values()
    }
    assert watched == {
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/Lambda", "IteratorAge"),
        ("AWS/ApiGateway", "5XXError"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    }
    dlqs = {
        name
        for name, q in of_type(template, "AWS::SQS::Queue").items()
        if "RedrivePolicy" not in q["Properties"]
    }
    depth = {
        a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for a in alarms.values()
        if a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    }
    assert (
        depth
        == dlqs
        == {"StreamDLQ", "NotificationsDLQ", "EscalationDLQ", "ExpiryDLQ", "ReminderDLQ"}
    )
    for alarm in alarms.values():
        props = alarm["Properties"]
        if props["MetricName"] == "ApproximateNumberOfMessagesVisible":
            assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)
        if props["MetricName"] == "5XXError":
            # The API's name is the one the alarm's dimension names.
            api = of_type(template, "AWS::ApiGateway::RestApi")["RestAPI"]["Properties"]
            assert props["Dimensions"] == [{"Name": "ApiName", "Value": api["Name"]}]


@pytest.mark.parametrize("stage", STAGES)
def test_events_and_api_traffic_go_through_the_alias_once_the_policy_exists(
    expanded: Templates, stage: str
) -> None:
    template = expanded[stage]
    resources = template["Resources"]
    aliases = of_type(template, "AWS::Lambda::Alias")
    mappings = of_type(template, "AWS::Lambda::EventSourceMapping")
    assert len(mappings) == 6
    for name, mapping in mappings.items():
        [target] = references(mapping["Properties"]["FunctionName"])
        assert target in aliases, name  # the canary covers event functions too
        function = function_behind(template, mapping["Properties"]["FunctionName"])
        role = resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]
        # The mapping is created after the role and its inline policy: never before it.
        assert role in depends_on(template, name)
        assert resources[role]["Properties"]["Policies"]
    # API Gateway invokes the API handler's alias, and may only invoke that.
    body = resources["RestAPI"]["Properties"]["Body"]
    uris = [
        op["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        for ops in body["paths"].values()
        for op in ops.values()
        if op.get("x-amazon-apigateway-integration", {}).get("type") == "aws_proxy"
    ]
    assert uris and all("${APIHandlerAliaslive}/invocations" in uri for uri in uris)
    permission = resources["APIHandlerInvokePermission"]["Properties"]
    assert permission["FunctionName"] == {"Ref": "APIHandlerAliaslive"}


@pytest.mark.parametrize("stage", STAGES)
def test_queues_give_consumers_six_timeouts_and_dlqs_outlive_their_queues(
    expanded: Templates, stage: str
) -> None:
    template = expanded[stage]
    resources = template["Resources"]
    resolve = Resolver(template)
    consumers = 0
    for mapping in of_type(template, "AWS::Lambda::EventSourceMapping").values():
        source = mapping["Properties"]["EventSourceArn"]
        [queue] = references(source)
        if resources[queue]["Type"] != "AWS::SQS::Queue":
            continue
        consumers += 1
        function = function_behind(template, mapping["Properties"]["FunctionName"])
        timeout = resources[function]["Properties"]["Timeout"]
        props = resources[queue]["Properties"]
        assert props["VisibilityTimeout"] >= 6 * timeout, (queue, function)
        dlq = resolve(props["RedrivePolicy"]["deadLetterTargetArn"]).rsplit(":", 1)[-1]
        assert (
            resources[dlq]["Properties"]["MessageRetentionPeriod"] > props["MessageRetentionPeriod"]
        )
    assert consumers == 4


@pytest.mark.parametrize("stage", STAGES)
def test_tables_and_queues_outlive_the_stack_and_prod_tables_are_protected(
    expanded: Templates, stage: str
) -> None:
    template = expanded[stage]
    holding = {
        **of_type(template, "AWS::DynamoDB::Table"),
        **of_type(template, "AWS::SQS::Queue"),
    }
    assert len(holding) == 12
    for name, resource in holding.items():
        assert resource.get("DeletionPolicy") == "Retain", name
        assert resource.get("UpdateReplacePolicy") == "Retain", name
        if resource["Type"] == "AWS::SQS::Queue":
            assert resource["Properties"]["MessageRetentionPeriod"] >= 4 * 24 * 3600
    for name, table in of_type(template, "AWS::DynamoDB::Table").items():
        props = table["Properties"]
        protected = props.get("DeletionProtectionEnabled", False)
        recovery = props.get("PointInTimeRecoverySpecification", {})
        if stage == "prod":
            assert protected is True, name
            assert recovery.get("PointInTimeRecoveryEnabled") is True, name


@pytest.mark.parametrize("stage", STAGES)
def test_each_function_logs_to_its_own_group_kept_for_the_stage_retention(
    expanded: Templates, stage: str
) -> None:
    template = expanded[stage]
    resolve = Resolver(template)
    retention = json.loads((PROJECT / "infra" / "stages.json").read_text())[stage]["Parameters"][
        "LogRetentionInDays"
    ]["Default"]
    groups = set()
    for function in functions(template).values():
        group = template["Resources"][function]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        props = template["Resources"][group]["Properties"]
        assert int(resolve(props["RetentionInDays"])) == retention
        groups.add(group)
    assert len(groups) == 10


def test_memory_is_sized_per_function(expanded: Templates) -> None:
    template = expanded["prod"]
    memory = {
        name: template["Resources"][function]["Properties"]["MemorySize"]
        for name, function in functions(template).items()
    }
    # Password hashing (Argon2id, 19 MiB) is the API's CPU-bound work: it gets the most CPU.
    assert memory["api_handler"] == max(memory.values()) >= 1024
    assert max(v for k, v in memory.items() if k != "api_handler") <= 512


@pytest.mark.parametrize("stage", STAGES)
def test_the_api_edge_answers_in_the_error_envelope_with_cors(
    expanded: Templates, stage: str
) -> None:
    body = expanded[stage]["Resources"]["RestAPI"]["Properties"]["Body"]
    responses = body["x-amazon-apigateway-gateway-responses"]
    expected = {
        "MISSING_AUTHENTICATION_TOKEN": ("404", "not_found"),  # an unknown path
        "ACCESS_DENIED": ("403", "forbidden"),
        "DEFAULT_4XX": (None, "bad_request"),
        "DEFAULT_5XX": (None, "internal_error"),
    }
    for kind, (status, code) in expected.items():
        response = responses[kind]
        assert response.get("statusCode") == status
        envelope = json.loads(response["responseTemplates"]["application/json"])
        assert set(envelope["error"]) == {"code", "message", "details"}
        assert envelope["error"]["code"] == code
        headers = response["responseParameters"]
        assert "gatewayresponse.header.Access-Control-Allow-Origin" in headers
        assert "gatewayresponse.header.X-Correlation-Id" in headers
        assert "X-Correlation-Id" in headers["gatewayresponse.header.Access-Control-Expose-Headers"]
    # A method a path does not have: 405 in the envelope, answered by API Gateway itself.
    for path, operations in body["paths"].items():
        other = operations["x-amazon-apigateway-any-method"]
        integration = other["x-amazon-apigateway-integration"]
        assert integration["type"] == "mock", path
        answer = integration["responses"]["default"]
        assert answer["statusCode"] == "405"
        vtl = answer["responseTemplates"]["application/json"]["Fn::Sub"]
        envelope = vtl.rsplit("\n", 1)[-1].replace("$context.httpMethod", "DELETE")
        assert json.loads(envelope)["error"]["code"] == "method_not_allowed"
        assert "${AllowedOrigins}" in vtl  # the caller's origin, only when allowed


@pytest.mark.parametrize("stage", STAGES)
def test_no_preflight_names_a_fixed_origin(expanded: Templates, stage: str) -> None:
    body = expanded[stage]["Resources"]["RestAPI"]["Properties"]["Body"]
    for path, operations in body["paths"].items():
        for method, operation in operations.items():
            integration = operation.get("x-amazon-apigateway-integration", {})
            for answer in integration.get("responses", {}).values():
                fixed = answer.get("responseParameters", {})
                assert "method.response.header.Access-Control-Allow-Origin" not in fixed, (
                    path,
                    method,
                )


def test_cfn_lint_finds_nothing_in_any_stage(
    templates: Templates, expanded: Templates, tmp_path: Path
) -> None:
    files = [packaged(stage) / "template.json" for stage in STAGES]
    # cfn-lint checks SAM templates against SAM's schema without expanding them: lint what
    # CloudFormation receives after the transform too (one stage: they differ only in values).
    after_transform = tmp_path / "prod-expanded.json"
    after_transform.write_text(json.dumps(expanded["prod"]))
    files.append(after_transform)
    lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(lint), "--format", "parseable", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout.strip()) == (0, ""), result.stdout + result.stderr


def test_nothing_names_an_account_or_a_region(templates: Templates) -> None:
    """Accounts and regions come from where the stack is deployed, never from the repository."""
    sources = [
        *(PROJECT / "infra").glob("*.json"),
        *(PROJECT / ".chalice").glob("*.json"),
        *(packaged(stage) / "template.json" for stage in STAGES),
    ]
    for path in sources:
        text = path.read_text()
        assert not re.search(r"(?<![0-9])[0-9]{12}(?![0-9])", text), path
        assert not re.search(r"\b(us|eu|ap|sa|ca|me|af)-[a-z]+-[0-9]\b", text), path
