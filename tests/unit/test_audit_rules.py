"""What the audit log records from a stream record (no AWS)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.context import Caller
from chalicelib.db.changes import parse_record
from chalicelib.errors import Forbidden
from chalicelib.models.audit import AuditQuery, EntityType
from chalicelib.models.users import Role
from chalicelib.services.audit import AuditRecorder, AuditService, Outcome, audit_entry
from tests.unit.fakes import FakeAuditLog


def record(name: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ApproximateCreationDateTime": 1767225600,
        "Keys": {"pk": {"S": "T#t1#USER#u1"}, "sk": {"S": "USER"}},
        "SequenceNumber": "42",
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if old is not None:
        data["OldImage"] = old
    if new is not None:
        data["NewImage"] = new
    return {"eventID": "ev-1", "eventName": name, "dynamodb": data}


USER = {
    "pk": {"S": "T#t1#USER#u1"},
    "sk": {"S": "USER"},
    "type": {"S": "user"},
    "gsi1pk": {"S": "T#t1#USERS"},
    "id": {"S": "u1"},
    "tenant_id": {"S": "t1"},
    "name": {"S": "Ann"},
    "active": {"BOOL": True},
    "version": {"N": "2"},
    "score": {"N": "1.5"},
    "tags": {"SS": ["b", "a"]},
    "password_hash": {"S": "$argon2id$secret"},
    "refresh_token_hash": {"S": "abc"},
    "api_secret": {"S": "s"},
    "updated_by": {"S": "admin1"},
    "correlation_id": {"S": "corr-1"},
}


def test_images_are_plain_json_without_keys_or_secrets():
    change = parse_record(record("INSERT", None, USER))
    assert change.action == "created" and change.at == "2026-01-01T00:00:00.000Z"
    assert change.after == {
        "id": "u1",
        "tenant_id": "t1",
        "name": "Ann",
        "active": True,
        "version": 2,
        "score": 1.5,
        "tags": ["a", "b"],
        "updated_by": "admin1",
        "correlation_id": "corr-1",
    }
    entry = audit_entry(change)
    assert entry is not None
    assert (entry.entity_type.value, entry.entity_id, entry.actor_id) == ("user", "u1", "admin1")


def test_a_delete_takes_actor_and_correlation_from_the_old_image():
    change = parse_record(record("REMOVE", USER, None))
    entry = audit_entry(change)
    assert entry is not None and entry.action.value == "deleted"
    assert entry.before is not None and entry.after is None
    assert (entry.actor_id, entry.correlation_id) == ("admin1", "corr-1")


def test_unaudited_types_keys_only_images_and_noops_are_skipped():
    credential = dict(USER, type={"S": "credential"})
    assert audit_entry(parse_record(record("INSERT", None, credential))) is None
    keys_only = {"pk": USER["pk"], "sk": USER["sk"]}
    assert audit_entry(parse_record(record("INSERT", None, keys_only))) is None
    assert audit_entry(parse_record(record("MODIFY", USER, USER))) is None


def test_the_recorder_reports_written_duplicate_and_skipped():
    log = FakeAuditLog()
    recorder = AuditRecorder(log)
    change = parse_record(record("INSERT", None, USER))
    assert recorder.record(change) is Outcome.written
    assert recorder.record(change) is Outcome.duplicate
    assert recorder.record(parse_record(record("MODIFY", USER, USER))) is Outcome.skipped
    assert len(log.entries) == 1


def test_only_an_admin_reads_the_trail_and_only_their_own_tenants():
    log = FakeAuditLog()
    AuditRecorder(log).record(parse_record(record("INSERT", None, USER)))
    admin = Caller(user_id="a1", tenant_id="t1", role=Role.admin)
    trail = AuditService(admin, log.reader("t1")).list(AuditQuery(entity_type=EntityType.user))
    assert [(e.entity_type, e.entity_id) for e in trail.items] == [(EntityType.user, "u1")]
    assert AuditService(admin, log.reader("t1")).list(AuditQuery(entity_id="zz")).items == []
    other = AuditService(admin, log.reader("t2")).list(AuditQuery())
    assert other.items == []
    with pytest.raises(Forbidden):
        AuditService(Caller(user_id="i1", tenant_id="t1", role=Role.instructor), log.reader("t1"))
