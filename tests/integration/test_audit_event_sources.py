"""The event functions' deploy settings (merged into chalice's SAM template from infra/):
every stream and queue consumer reports partial batch failures, and names a real function."""

from __future__ import annotations

from chalice.app import DynamoDBEventConfig, ScheduledEventConfig, SQSEventConfig
from chalice.utils import to_cfn_resource_name

from chalicelib.local.resources import load_template


def test_every_batch_consumer_reports_partial_failures_with_infra_sources():
    from app import app

    resources = load_template()["Resources"]
    consumers = [
        c for c in app.event_sources if isinstance(c, DynamoDBEventConfig | SQSEventConfig)
    ]
    assert sorted(c.name for c in consumers) == [
        "dispatch_events",
        "escalate_bookings",
        "expire_bookings",
        "record_audit",
        "send_notifications",
        "send_reminders",
    ]
    for config in consumers:
        function = resources[to_cfn_resource_name(config.name)]  # chalice's logical id
        assert function["Type"] == "AWS::Serverless::Function"
        suffix = (
            "-dynamodb-event-source"
            if isinstance(config, DynamoDBEventConfig)
            else ("-sqs-event-source")
        )
        [(event_name, event)] = function["Properties"]["Events"].items()
        assert event_name == to_cfn_resource_name(config.name + suffix)
        props = event["Properties"]
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        if isinstance(config, DynamoDBEventConfig):
            assert props["Stream"] == {"Fn::GetAtt": ["MainTable", "StreamArn"]}
            # A record that exhausts its retries is kept, not dropped.
            target = props["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"]
            assert resources[target[0]]["Type"] == "AWS::SQS::Queue" and target[1] == "Arn"
        else:
            # Fn::Sub, so the merge replaces chalice's own Fn::Sub instead of adding a key.
            assert list(props["Queue"]) == ["Fn::Sub"]
            queue = props["Queue"]["Fn::Sub"].removeprefix("${").removesuffix(".Arn}")
            assert resources[queue]["Properties"]["RedrivePolicy"]["maxReceiveCount"] >= 1
            assert config.queue is not None and config.queue.endswith(queue)


def test_the_finders_run_on_their_schedules():
    """Escalation and expiry look every five minutes; reminders every minute, so one goes
    out at most a minute after its time."""
    from app import app

    schedules = [s for s in app.event_sources if isinstance(s, ScheduledEventConfig)]
    rates = {}
    for schedule in schedules:
        expression = schedule.schedule_expression
        assert not isinstance(expression, str)
        rates[schedule.name] = expression.to_string()
    assert rates == {
        "find_expired_bookings": "rate(5 minutes)",
        "find_stale_bookings": "rate(5 minutes)",
        "find_due_reminders": "rate(1 minute)",
    }
