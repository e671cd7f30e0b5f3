"""Reading packaged templates offline: SAM expansion, intrinsic resolution, IAM evaluation.

* :func:`expand` runs the SAM transform (aws-sam-translator), as CloudFormation would.
* :class:`Resolver` turns ``Ref`` / ``Fn::GetAtt`` / ``Fn::Sub`` / ``Fn::Join`` into concrete
  strings for a symbolic account (``ACCOUNT``) and region, so policies and the ARNs of the
  calls the tests recorded can be compared.
* :func:`grants` / :func:`allows` evaluate a function role's inline policies (Allow only; the
  templates use no Deny, NotAction or NotResource, which :func:`grants` asserts).
"""

from __future__ import annotations

import copy
import fnmatch
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[2]
STAGES = ("local", "dev", "staging", "prod")
DEPLOYED_STAGES = ("dev", "staging", "prod")
REGION = "us-east-1"
ACCOUNT = "ACCOUNT"  # symbolic: nothing here is an account id
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:tutorbook/jwt-AbCdEf"
Template = dict[str, Any]
Templates = dict[str, Template]  # by stage
#: Values for parameters without a default (a deploy passes them; see scripts/deploy.py).
PARAMETERS = {"JwtSecretArn": SECRET_ARN}


def packaged(stage: str) -> Path:
    """``dist/<stage>/``, packaged now unless it is up to date with its inputs."""
    if str(PROJECT) not in sys.path:
        sys.path.insert(0, str(PROJECT))
    from scripts.package import package

    return Path(package(stage))


def load(stage: str) -> dict[str, Any]:
    return dict(json.loads((packaged(stage) / "template.json").read_text()))


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def expand(template: dict[str, Any], parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """The template after the SAM transform, with the code where ``cloudformation package``
    would put it (an S3 URI is all the transform needs)."""
    import logging

    from samtranslator.translator.transform import transform  # type: ignore[import-untyped]

    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    source = copy.deepcopy(template)
    for resource in source["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://deployment-bucket/deployment.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    return dict(transform(source, {**PARAMETERS, **(parameters or {})}, _NoManagedPolicies()))


# -- functions ----------------------------------------------------------------------------------


def functions(template: dict[str, Any]) -> dict[str, str]:
    """Chalice's function name -> logical id, from each function's handler string."""
    out: dict[str, str] = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] not in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            continue
        handler = resource["Properties"]["Handler"]
        out["api_handler" if handler == "app.app" else handler.rsplit(".", 1)[-1]] = logical_id
    return out


# -- intrinsic functions ---------------------------------------------------------------------


class Resolver:
    """Concrete strings for a template's intrinsics (symbolic account, fixed region)."""

    def __init__(self, template: dict[str, Any], parameters: dict[str, str] | None = None):
        self.resources: dict[str, Any] = template["Resources"]
        self.parameters = {
            name: str(spec.get("Default", ""))
            for name, spec in template.get("Parameters", {}).items()
        }
        self.parameters.update(PARAMETERS)
        self.parameters.update(parameters or {})
        self.pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "tutorbook-stage",
        }

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            [(key, arg)] = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(logical, attribute)
            if key == "Fn::Sub":
                return self.sub(arg)
            if key == "Fn::Join":
                separator, parts = arg
                return separator.join(str(self(p)) for p in parts)
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        return value

    def ref(self, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        kind = self.resources[name]["Type"]
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
        if kind == "AWS::Logs::LogGroup":
            return str(self(self.resources[name]["Properties"].get("LogGroupName", name)))
        if kind == "AWS::Lambda::Alias":
            function = self.resources[name]["Properties"]["FunctionName"]["Ref"]
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}:live"
        return name  # tables, functions, roles, alarms: their name

    def get_att(self, logical: str, attribute: str) -> str:
        kind = self.resources[logical]["Type"]
        arns = {
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{logical}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{logical}",
            "AWS::Logs::LogGroup": (
                f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{self.ref(logical)}:*"
            ),
            "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{logical}",
            "AWS::Lambda::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical}",
        }
        if attribute == "Arn":
            return arns[kind]
        if attribute == "StreamArn":
            return f"{arns[kind]}/stream/LABEL"
        if attribute == "QueueName":
            return logical
        raise KeyError(f"{logical}.{attribute}")

    def sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else arg
        out, rest = "", text
        while "${" in rest:
            before, _, after = rest.partition("${")
            name, _, rest = after.partition("}")
            out += before
            if name.startswith("!"):
                out += "${" + name[1:] + "}"
            elif name in variables:
                out += str(self(variables[name]))
            elif "." in name and not name.startswith("AWS::"):
                logical, attribute = name.split(".", 1)
                out += self.get_att(logical, attribute)
            else:
                out += self.ref(name)
        return str(out + rest)


def references(value: Any) -> set[str]:
    """Every logical id or parameter a value refers to (Ref, GetAtt, Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add((arg if isinstance(arg, list) else arg.split("."))[0])
            elif key == "Fn::Sub":
                found |= _sub_references(arg)
            else:
                found |= references(arg)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found


def _sub_references(arg: Any) -> set[str]:
    text, variables = (arg, {}) if isinstance(arg, str) else arg
    names = {piece.split("}")[0] for piece in text.split("${")[1:]}
    found = {n.split(".")[0] for n in names if not n.startswith(("!", "AWS::"))}
    return (found - set(variables)) | references(variables)


def depends_on(template: dict[str, Any], logical_id: str) -> set[str]:
    """Every resource ``logical_id`` is created after (references and DependsOn, transitively)."""
    resources = template["Resources"]
    seen: set[str] = set()
    todo = [logical_id]
    while todo:
        current = todo.pop()
        resource = resources[current]
        direct = references(resource.get("Properties", {}))
        declared = resource.get("DependsOn", [])
        direct |= set([declared] if isinstance(declared, str) else declared)
        for name in direct & set(resources):
            if name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


# -- IAM ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    sid: str
    action: str
    resource: str


def role_of(template: dict[str, Any], function: str) -> str:
    role = template["Resources"][function]["Properties"]["Role"]
    return str(role["Fn::GetAtt"][0])


def grants(template: dict[str, Any], function: str, resolve: Resolver) -> list[Grant]:
    """Every (action, resource) a function's role allows, resources resolved."""
    role = template["Resources"][role_of(template, function)]["Properties"]
    assert not role.get("ManagedPolicyArns"), f"{function}: managed policies are not checked"
    out: list[Grant] = []
    for policy in role.get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow", statement
            assert set(statement) <= {"Sid", "Effect", "Action", "Resource"}, statement
            actions = statement["Action"]
            targets = statement["Resource"]
            for action in [actions] if isinstance(actions, str) else actions:
                for target in targets if isinstance(targets, list) else [targets]:
                    out.append(Grant(statement.get("Sid", ""), action, str(resolve(target))))
    return out


def matches(pattern: str, value: str, *, case: bool = True) -> bool:
    """IAM's wildcard match (``*`` any run of characters, ``?`` one character)."""
    if not case:
        pattern, value = pattern.lower(), value.lower()
    escaped = pattern.replace("[", "[[]")
    return fnmatch.fnmatchcase(value, escaped)


def allows(granted: list[Grant], action: str, resource: str) -> bool:
    return any(
        matches(g.action, action, case=False) and matches(g.resource, resource) for g in granted
    )


def arn_of(action: str, value: str, qualifier: str = "") -> str:
    """The ARN IAM checks for a call naming ``value`` (a table name, queue URL, address ...)."""
    service = action.split(":")[0]
    if service == "dynamodb":
        arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{value}"
        return f"{arn}/{qualifier}" if qualifier else arn
    if service == "sqs":
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{value.rstrip('/').rsplit('/', 1)[-1]}"
    if service == "ses":
        return f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{value}"
    return value


def function_behind(template: dict[str, Any], value: Any) -> str:
    """The function a ``FunctionName`` names, directly or through an alias or version."""
    [name] = references(value)
    resource = template["Resources"][name]
    if resource["Type"] in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):
        return function_behind(template, resource["Properties"]["FunctionName"])
    return name


def infrastructure_grants(
    template: dict[str, Any], function: str, resolve: Resolver
) -> dict[tuple[str, str], str]:
    """What AWS itself does with the function's role, so no test of the app's code records it.
    Each (action, resource) with the reason; derived from the template, not listed by hand."""
    properties = template["Resources"][function]["Properties"]
    log_group = str(
        resolve({"Fn::GetAtt": [properties["LoggingConfig"]["LogGroup"]["Ref"], "Arn"]})
    )
    reason = "Lambda writes the function's logs with its role"
    out = {
        ("logs:CreateLogStream", log_group): reason,
        ("logs:PutLogEvents", log_group): reason,
    }
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        mapping = resource["Properties"]
        if function_behind(template, mapping["FunctionName"]) != function:
            continue
        source = str(resolve(mapping["EventSourceArn"]))
        if source.startswith("arn:aws:dynamodb:"):
            why = "Lambda's event source mapping reads the stream (the tests' pump plays it)"
            for action in ("dynamodb:DescribeStream", "dynamodb:GetRecords"):
                out[(action, source)] = why
            out[("dynamodb:GetShardIterator", source)] = why
            table = source.split("/stream/")[0]
            out[("dynamodb:ListStreams", f"{table}/stream/*")] = why
            destination = mapping["DestinationConfig"]["OnFailure"]["Destination"]
            out[("sqs:SendMessage", str(resolve(destination)))] = (
                "Lambda's event source mapping sends records that exhaust their retries"
            )
        else:
            why = "Lambda's event source mapping polls and deletes (the tests' pump plays it)"
            for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
                out[(action, source)] = why
    return out
