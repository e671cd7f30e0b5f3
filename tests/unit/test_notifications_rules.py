"""Which change emails whom, and what the email says (no AWS: pure rules and fakes)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.models.messages import (
    Change,
    NotificationKind,
    NotificationMessage,
    OutgoingEmail,
    Recipient,
)
from chalicelib.services.notifications import (
    NotificationService,
    UnknownRecipient,
    notifications_for,
)
from tests.unit.fakes import FakeDirectory, FakeMailer

BOOKING = {
    "id": "b1",
    "tenant_id": "t1",
    "student_id": "s1",
    "course_id": "c1",
    "starts_at": "2030-01-02T10:00:00.000Z",
    "duration_minutes": 60,
    "status": "requested",
}


def change(action: str, before: Any, after: Any, *, kind: str = "booking", actor: str = "a1"):
    current = after or before
    return Change(
        event_id="e1",
        sequence="1",
        action=action,
        at="2030-01-01T00:00:00.000Z",
        entity_type=kind,
        entity_id=current["id"],
        tenant_id="t1",
        actor_id=actor,
        correlation_id="c-1",
        before=before,
        after=after,
    )


def kinds(c: Change) -> list[str]:
    return [m.kind.value for m in notifications_for(c)]


def test_each_booking_step_maps_to_its_notification():
    assert kinds(change("created", None, BOOKING)) == ["booking_requested"]
    steps = ["approved", "assigned", "completed", "rejected", "cancelled"]
    for status in steps:
        after = dict(BOOKING, status=status)
        assert kinds(change("updated", BOOKING, after)) == [f"booking_{status}"]
    escalated = dict(BOOKING, escalated_at="2030-01-01T00:00:00.000Z")
    assert kinds(change("updated", BOOKING, escalated)) == ["booking_escalated"]
    # A change that is neither a new status nor a new escalation emails nobody.
    assert kinds(change("updated", BOOKING, dict(BOOKING, note="x"))) == []
    assert kinds(change("updated", escalated, dict(escalated, note="x"))) == []
    assert kinds(change("deleted", BOOKING, None)) == []


def test_only_users_created_by_someone_else_are_welcomed():
    user = {"id": "u2", "email": "u2@example.com", "name": "U", "role": "student"}
    assert kinds(change("created", None, user, kind="user", actor="admin")) == ["user_welcome"]
    assert kinds(change("created", None, user, kind="user", actor="u2")) == []  # sign-up
    assert kinds(change("updated", user, dict(user, name="V"), kind="user")) == []
    assert kinds(change("created", None, {"id": "c9", "title": "T"}, kind="course")) == []


def test_notification_ids_are_stable_per_stream_record_and_kind():
    a = notifications_for(change("created", None, BOOKING))
    b = notifications_for(change("created", None, BOOKING))
    assert [m.id for m in a] == [m.id for m in b]
    other = Change(**{**change("created", None, BOOKING).model_dump(), "event_id": "e2"})
    assert notifications_for(other)[0].id != a[0].id


PEOPLE = {
    "s1": Recipient(user_id="s1", name="Sam <Student>", email="sam@example.com"),
    "i1": Recipient(user_id="i1", name="Ivy Instructor", email="ivy@example.com"),
    "admin1": Recipient(user_id="admin1", name="Ada", email="ada@example.com"),
    "admin2": Recipient(user_id="admin2", name="Abe", email="abe@example.com"),
}
ADMINS = [PEOPLE["admin1"], PEOPLE["admin2"]]


def directory(
    people: dict[str, Recipient] = PEOPLE, title: str | None = "Algebra <1>"
) -> FakeDirectory:
    return FakeDirectory(people, admins=ADMINS, title=title)


def message(kind: NotificationKind, entity: dict[str, Any], previous=None) -> NotificationMessage:
    return NotificationMessage(
        id="n1",
        kind=kind,
        tenant_id="t1",
        entity_id=entity["id"],
        actor_id="admin1",
        entity=entity,
        previous=previous,
    )


@pytest.mark.parametrize(
    ("kind", "entity", "expected"),
    [
        (NotificationKind.booking_requested, BOOKING, ["sam@example.com"]),
        (NotificationKind.booking_approved, BOOKING, ["sam@example.com"]),
        (
            NotificationKind.booking_assigned,
            dict(BOOKING, instructor_id="i1"),
            ["sam@example.com", "ivy@example.com"],
        ),
        (
            NotificationKind.booking_completed,
            dict(BOOKING, instructor_id="i1"),
            ["sam@example.com"],
        ),
        (NotificationKind.booking_rejected, BOOKING, ["sam@example.com"]),
        (
            NotificationKind.booking_cancelled,
            dict(BOOKING, instructor_id="i1"),
            ["sam@example.com", "ivy@example.com"],
        ),
        (NotificationKind.booking_escalated, BOOKING, ["ada@example.com", "abe@example.com"]),
    ],
)
def test_recipients_follow_the_api_table(kind, entity, expected):
    mailer = FakeMailer()
    delivery = NotificationService(directory(), mailer).deliver(message(kind, entity))
    assert [e.to for e in mailer.sent.values()] == expected
    assert delivery.sent == len(expected) and delivery.repeated == 0
    again = NotificationService(directory(), mailer).deliver(message(kind, entity))
    assert again.sent == 0 and again.repeated == len(expected)  # exactly once per recipient


def test_emails_have_text_and_escaped_html_naming_course_time_and_people():
    mailer = FakeMailer()
    entity = dict(BOOKING, instructor_id="i1", status="assigned")
    NotificationService(directory(), mailer).deliver(
        message(NotificationKind.booking_assigned, entity)
    )
    email = mailer.sent["n1:s1"]
    # The tenant's zone (UTC here) for a recipient without one of their own, named.
    assert email.subject == "A booking was assigned: Algebra <1> at Wed 2 Jan 2030, 10:00 (UTC)"
    for part in ("Algebra <1>", "Wed 2 Jan 2030, 10:00 (UTC)", "Sam <Student>", "Ivy Instructor"):
        assert part in email.text
    assert "Algebra &lt;1&gt;" in email.html and "Sam &lt;Student&gt;" in email.html
    assert "<Student>" not in email.html


def test_a_booking_whose_student_is_unknown_is_a_poison_message():
    with pytest.raises(UnknownRecipient):
        NotificationService(directory({}), FakeMailer()).deliver(
            message(NotificationKind.booking_approved, BOOKING)
        )
    with pytest.raises(UnknownRecipient):
        NotificationService(directory(), FakeMailer()).deliver(
            message(NotificationKind.booking_approved, {"id": "b2"})
        )


def test_a_missing_course_falls_back_to_its_id():
    mailer = FakeMailer()
    NotificationService(directory(title=None), mailer).deliver(
        message(NotificationKind.booking_requested, BOOKING)
    )
    assert "c1" in mailer.sent["n1:s1"].subject


def test_the_sender_address_and_ses_configuration_come_from_configuration(monkeypatch):
    from chalicelib.config import reset_settings
    from chalicelib.notify.ses import SesSender

    class FakeSes:
        def __init__(self) -> None:
            self.requests: list[dict[str, Any]] = []

        def send_email(self, **request: Any) -> dict[str, str]:
            self.requests.append(request)
            return {"MessageId": "m-1"}

    monkeypatch.setenv("EMAIL_SENDER", "bookings@school.example")
    monkeypatch.setenv("SES_CONFIGURATION_SET", "tutorbook-events")
    reset_settings()
    try:
        ses = FakeSes()
        email = OutgoingEmail(
            key="k", tenant_id="t1", to="sam@example.com", subject="S", text="T", html="<p>H</p>"
        )
        assert SesSender(client=ses).send(email) == "m-1"
    finally:
        reset_settings()
    [request] = ses.requests
    assert request["FromEmailAddress"] == "bookings@school.example"
    assert request["ConfigurationSetName"] == "tutorbook-events"
    assert request["Destination"] == {"ToAddresses": ["sam@example.com"]}
    body = request["Content"]["Simple"]["Body"]
    assert body["Text"]["Data"] == "T" and body["Html"]["Data"] == "<p>H</p>"


def test_account_changes_map_to_their_emails():
    user = {"id": "u2", "email": "u2@example.com", "name": "U", "role": "student"}
    invited = dict(user, invitation_pending=True)
    # An invited user is not welcomed: their link item's insert sends the invitation.
    assert kinds(change("created", None, invited, kind="user", actor="admin")) == []
    link = {"id": "u2", "purpose": "invite", "seed": "s", "tenant_slug": "acme"}
    assert kinds(change("created", None, link, kind="account_link")) == ["user_invited"]
    reset = dict(link, purpose="reset")
    assert kinds(change("created", None, reset, kind="account_link")) == [
        "password_reset_requested"
    ]
    assert kinds(change("deleted", link, None, kind="account_link")) == []  # used or voided
    changed = dict(user, pw_changed_at="2030-01-01T00:00:00.000Z")
    assert kinds(change("updated", user, changed, kind="user")) == ["password_changed"]
    # Accepting an invitation changes no password: no notice.
    assert kinds(change("updated", invited, user, kind="user")) == []


def test_a_link_email_carries_the_link_and_never_the_seed():
    directory = FakeDirectory(
        {
            "u2": Recipient(user_id="u2", name="Ivy", email="ivy@example.com"),
            "a1": Recipient(user_id="a1", name="Ada", email="ada@example.com"),
        }
    )
    link = {
        "id": "u2",
        "purpose": "invite",
        "seed": "the-seed",
        "tenant_slug": "acme",
        "valid_until": "2030-01-08T00:00:00.000Z",
    }
    [message] = notifications_for(change("created", None, link, kind="account_link"))
    [email] = NotificationService(directory, FakeMailer()).render(message)
    assert email.to == "ivy@example.com"
    assert "/accept-invite?tenant=acme&token=" in email.text
    assert "Ada" in email.text and "Tue 8 Jan 2030, 00:00 (UTC)" in email.text
    assert "the-seed" not in email.text + email.html


def test_expiry_and_a_new_time_map_to_their_notifications():
    waiting = dict(BOOKING, status="approved")
    assert kinds(change("updated", waiting, dict(waiting, status="expired"))) == ["booking_expired"]
    moved = dict(waiting, starts_at="2030-01-03T10:00:00.000Z")
    assert kinds(change("updated", waiting, moved)) == ["booking_rescheduled"]
    longer = dict(waiting, duration_minutes=90)
    assert kinds(change("updated", waiting, longer)) == ["booking_rescheduled"]
    # A new state that also carries another time is that state's email only.
    assert kinds(change("updated", waiting, dict(moved, status="assigned"))) == ["booking_assigned"]


def test_a_moved_booking_emails_its_student_and_its_instructor_if_assigned():
    assigned = dict(BOOKING, status="assigned", instructor_id="i1")
    moved = dict(assigned, starts_at="2030-01-03T10:00:00.000Z")
    [note] = notifications_for(change("updated", assigned, moved))
    mailer = FakeMailer()
    NotificationService(directory(), mailer).deliver(note)
    assert sorted(e.to for e in mailer.sent.values()) == sorted(
        [PEOPLE["s1"].email, PEOPLE["i1"].email]
    )
    [note] = notifications_for(change("updated", BOOKING, dict(BOOKING, duration_minutes=30)))
    mailer = FakeMailer()
    NotificationService(directory(), mailer).deliver(note)
    assert [e.to for e in mailer.sent.values()] == [PEOPLE["s1"].email]


def test_a_reminder_is_one_per_participant_and_start_whatever_record_carries_it():
    assigned = dict(BOOKING, status="assigned", instructor_id="i1")
    reminded = dict(assigned, reminded_for=assigned["starts_at"])
    [note] = notifications_for(change("updated", assigned, reminded))
    assert note.kind is NotificationKind.booking_reminder
    # Another stream record with the same reminder (a replay, a re-armed reminder for the same
    # start): the same id, so the sender's once-per-(id, recipient) drops the repeat.
    again = change("updated", assigned, reminded).model_copy(update={"event_id": "e2"})
    assert [n.id for n in notifications_for(again)] == [note.id]
    moved = dict(reminded, starts_at="2030-01-03T10:00:00.000Z")
    [other] = notifications_for(
        change("updated", moved, dict(moved, reminded_for=moved["starts_at"]))
    )
    assert other.id != note.id  # a new start is a new reminder
    mailer = FakeMailer()
    NotificationService(directory(), mailer).deliver(note)
    NotificationService(directory(), mailer).deliver(note)
    sent = list(mailer.sent.values())
    assert sorted(e.to for e in sent) == sorted([PEOPLE["s1"].email, PEOPLE["i1"].email])
    assert all(e.subject.startswith("Reminder: your session is coming up") for e in sent)
    assert all(not e.attachments for e in sent)


def test_no_reminder_for_a_stale_mark_or_a_session_no_longer_assigned():
    assigned = dict(BOOKING, status="assigned", instructor_id="i1")
    stale = dict(assigned, reminded_for="2030-01-01T10:00:00.000Z")  # not its start any more
    assert kinds(change("updated", assigned, stale)) == []
    cancelled = dict(assigned, status="cancelled", reminded_for=assigned["starts_at"])
    assert kinds(change("updated", assigned, cancelled)) == ["booking_cancelled"]
    reminded = dict(assigned, reminded_for=assigned["starts_at"])
    assert kinds(change("updated", reminded, dict(reminded, note="x"))) == []
