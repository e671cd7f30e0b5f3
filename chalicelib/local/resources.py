"""Create the emulated AWS resources from ``infra/resources.json`` (the one definition).

Used by the local stack and by the integration tests, so neither keeps a schema of its own.
Re-running against an emulator that already has the resources is fine.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "resources.json"


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def env_name(logical_id: str) -> str:
    """MainTable -> MAIN_TABLE, NotificationsDLQ -> NOTIFICATIONS_DLQ."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", logical_id).upper()


def physical_name(app: str, stage: str, logical_id: str) -> str:
    return f"{app}-{stage}-{logical_id}"


class _Resolver:
    def __init__(self, parameters: dict[str, str]) -> None:
        self.parameters = parameters
        self.attributes: dict[tuple[str, str], str] = {}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"Ref"}:
                return self.parameters[value["Ref"]]
            if set(value) == {"Fn::GetAtt"}:
                logical, attr = value["Fn::GetAtt"]
                return self.attributes[(logical, attr)]
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        return value


def create_resources(
    *,
    app: str = "tutorbook",
    stage: str = "local",
    region: str = "us-east-1",
    endpoint_url: str | None = None,
    parameters: dict[str, str] | None = None,
    template: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Create every table, queue and email identity; answer the environment the app needs."""
    template = template or load_template()
    params = {k: v.get("Default", "") for k, v in template.get("Parameters", {}).items()}
    params.update(parameters or {})
    resolve = _Resolver(params)
    kwargs: dict[str, Any] = {"region_name": region}
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    ddb = boto3.client("dynamodb", **kwargs)
    sqs = boto3.client("sqs", **kwargs)
    ses = boto3.client("sesv2", **kwargs)
    env: dict[str, str] = {}
    resources = template["Resources"]
    # Queues without a redrive policy (the DLQs) first, so their ARNs can be referenced.
    order = sorted(
        resources, key=lambda lid: "RedrivePolicy" in resources[lid].get("Properties", {})
    )
    for logical_id in order:
        resource = resources[logical_id]
        if resource["Type"].startswith("AWS::Serverless::"):
            continue  # the app's functions (merged into chalice's template); the pump plays them
        props = resolve(resource.get("Properties", {}))
        name = physical_name(app, stage, logical_id)
        kind = resource["Type"]
        if kind == "AWS::DynamoDB::Table":
            env.update(_table(ddb, logical_id, name, props))
        elif kind == "AWS::SQS::Queue":
            url, arn = _queue(sqs, name, props)
            resolve.attributes[(logical_id, "Arn")] = arn
            env[env_name(logical_id)] = name
            env[env_name(logical_id) + "_URL"] = url
        elif kind == "AWS::SES::EmailIdentity":
            _identity(ses, props["EmailIdentity"])
            env["EMAIL_SENDER"] = props["EmailIdentity"]
        else:  # pragma: no cover - a new resource type needs a local twin here
            raise ValueError(f"no local twin for {kind} ({logical_id})")
    return env


def _table(ddb: Any, logical_id: str, name: str, props: dict[str, Any]) -> dict[str, str]:
    spec: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        spec["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if "StreamSpecification" in props:
        spec["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": props["StreamSpecification"]["StreamViewType"],
        }
    try:
        ddb.create_table(**spec)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        try:
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        except ClientError as exc:  # already enabled on a re-run
            if exc.response["Error"]["Code"] != "ValidationException":
                raise
    description = ddb.describe_table(TableName=name)["Table"]
    env = {env_name(logical_id): name}
    if description.get("LatestStreamArn"):
        env[env_name(logical_id) + "_STREAM_ARN"] = description["LatestStreamArn"]
    return env


def _queue(sqs: Any, name: str, props: dict[str, Any]) -> tuple[str, str]:
    attributes: dict[str, str] = {}
    for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds"):
        if key in props:
            attributes[key] = str(props[key])
    if "RedrivePolicy" in props:
        attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def _identity(ses: Any, address: str) -> None:
    try:
        ses.create_email_identity(EmailIdentity=address)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "AlreadyExistsException":
            raise
