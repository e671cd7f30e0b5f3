"""Account lifecycle through the routes: invitations, forgotten and changed passwords, a user's
logins, and refresh that survives two tabs. Emails are read as they leave through SES."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.support.accounts import PASSWORD, TenantLogin, login, new_user
from tests.support.eventkit import (
    QueueTap,
    StreamTap,
    failures,
    sent_emails,
    sqs_event,
    stream_event,
)
from tests.support.http import Api

NEW_PASSWORD = "a brand new passphrase"
_TOKEN = re.compile(r"[?&](?:amp;)?token=([A-Za-z0-9_-]+)")


class Mail:
    """Delivers what the stream says (stream -> queue -> SES), the way the deployed functions
    do, and reads what SES sent."""

    def __init__(self, client: Any, aws: dict[str, str]) -> None:
        self.client = client
        self.stream = StreamTap(aws["MAIN_TABLE"])
        self.queue = QueueTap(aws["NOTIFICATIONS_QUEUE_URL"])
        self.records: list[dict[str, Any]] = []
        self.seen = 0

    def deliver(self) -> list[dict[str, Any]]:
        records = self.stream.records()
        self.records += records
        if records:
            answer = self.client.lambda_.invoke("dispatch_events", stream_event(records)).payload
            assert failures(answer) == []
        messages = self.queue.records()
        if messages:
            sent = self.client.lambda_.invoke("send_notifications", sqs_event(messages)).payload
            assert failures(sent) == []
        emails = sent_emails()
        new, self.seen = emails[self.seen :], len(emails)
        return new

    def to(self, address: str) -> list[dict[str, Any]]:
        return [e for e in self.deliver() if address in e["to"]]


def link_token(email: dict[str, Any]) -> str:
    found = _TOKEN.search(email["body"])
    assert found, email["body"]
    return found.group(1)


@pytest.fixture
def mail(client: Any, aws: dict[str, str], acme: TenantLogin) -> Mail:
    box = Mail(client, aws)
    box.deliver()  # the sign-up
    return box


def invite(api: Api, acme: TenantLogin, email: str = "ivy@acme.test") -> dict[str, Any]:
    r = api.post(
        "/users", {"email": email, "name": "Ivy Invited", "role": "student"}, token=acme.token
    )
    assert r.status == 201, r.body
    return dict(r.json)


def accept(api: Api, token: str, password: str = NEW_PASSWORD, tenant: str = "acme") -> Any:
    return api.post(
        "/auth/invitation/accept", {"tenant": tenant, "token": token, "password": password}
    )


def rename(api: Api, access_token: str) -> Any:
    """A write by the token's user (any write refuses a token of an ended login at once)."""
    me = api.get("/users/me", token=access_token)
    if me.status != 200:
        return me
    return api.patch(f"/users/{me.json['id']}", {"name": "Renamed"}, token=access_token)


# --- invitations -----------------------------------------------------------------------------
def test_an_invited_user_accepts_and_is_logged_in(api, acme, mail, aws):
    user = invite(api, acme)
    assert user["invitation_pending"] is True
    [email] = mail.to("ivy@acme.test")  # the invitation, and no welcome
    assert email["subject"] == "You are invited to tutorbook"
    assert "Ada Admin" in email["body"] and "Ivy Invited" in email["body"]
    assert f"{aws.get('APP_URL', 'http://127.0.0.1:3000')}/accept-invite?tenant=acme" in email[
        "body"
    ].replace("&amp;", "&")
    token = link_token(email)
    assert len(token) >= 22  # at least 128 bits

    # Not before accepting: the same answer as a wrong password.
    r = api.post("/auth/login", {"tenant": "acme", "email": "ivy@acme.test", "password": PASSWORD})
    assert r.status == 401 and r.error_code == "invalid_credentials"

    r = accept(api, token)
    assert r.status == 200, r.body
    me = api.get("/users/me", token=r.json["access_token"]).json
    assert me["id"] == user["id"] and me["invitation_pending"] is False
    assert login(api, "acme", "ivy@acme.test", NEW_PASSWORD)["access_token"]

    # Single use.
    again = accept(api, token, "yet another passphrase")
    assert again.status == 400 and again.error_code == "invalid_token"
    assert token not in again.body.decode()
    assert mail.to("ivy@acme.test") == []  # accepting sends nothing


def test_a_new_invitation_voids_the_previous_link(api, acme, mail):
    user = invite(api, acme)
    [first] = mail.to("ivy@acme.test")
    r = api.post(f"/users/{user['id']}/invitation", token=acme.token)
    assert r.status == 202 and r.json == {"status": "accepted"}
    [second] = mail.to("ivy@acme.test")
    assert link_token(first) != link_token(second)
    assert accept(api, link_token(first)).error_code == "invalid_token"
    assert accept(api, link_token(second)).status == 200
    # Accepted: nothing more to re-send.
    assert api.post(f"/users/{user['id']}/invitation", token=acme.token).status == 409
    assert api.post("/users/01NOPE/invitation", token=acme.token).status == 404


def test_an_invitation_expires_after_seven_days(api, acme, mail, clock):
    invite(api, acme)
    [email] = mail.to("ivy@acme.test")
    clock.advance(days=7, minutes=1)
    r = accept(api, link_token(email))
    assert r.status == 400 and r.error_code == "invalid_token"


def test_a_link_token_is_checked_in_its_own_tenant_and_for_its_purpose(api, acme, globex, mail):
    invite(api, acme)
    [email] = mail.to("ivy@acme.test")
    token = link_token(email)
    assert accept(api, token, tenant="globex").error_code == "invalid_token"
    r = api.post(
        "/auth/password/reset", {"tenant": "acme", "token": token, "password": NEW_PASSWORD}
    )
    assert r.status == 400 and r.error_code == "invalid_token"
    assert accept(api, token).status == 200  # still good for what it was made for


def test_users_created_with_a_password_are_still_welcomed(api, acme, mail):
    r = api.post(
        "/users",
        {"email": "pat@acme.test", "name": "Pat", "role": "student", "password": PASSWORD},
        token=acme.token,
    )
    assert r.status == 201 and r.json["invitation_pending"] is False
    [email] = mail.to("pat@acme.test")
    assert email["subject"] == "Welcome to tutorbook"


# --- forgotten password ----------------------------------------------------------------------
def forgot(api: Api, email: str, tenant: str = "acme") -> Any:
    return api.post("/auth/password/forgot", {"tenant": tenant, "email": email})


def test_forgot_password_answers_the_same_whether_or_not_the_account_exists(
    api, acme, mail, aws_requests
):
    new_user(acme, "stu@acme.test", "student")
    mail.deliver()
    answers = [forgot(api, "someone@acme.test"), forgot(api, "stu@acme.test", "no-such-org")]
    requests = []
    for email in ("stu@acme.test", "nobody@acme.test"):
        aws_requests.reset()
        answers.append(forgot(api, email))
        requests.append(aws_requests.operations())
    assert {a.status for a in answers} == {202}
    assert len({a.body for a in answers}) == 1
    # The same requests, so the same time: only a real account's transaction writes a link
    # (the other's checks a link that cannot exist); a spent hourly allowance answers the same.
    known, unknown = requests
    assert known == unknown == ["GetItem", "UpdateItem", "GetItem", "GetItem", "TransactWriteItems"]
    [email] = mail.to("stu@acme.test")
    assert email["subject"] == "Reset your tutorbook password"
    assert "/reset-password?tenant=acme" in email["body"].replace("&amp;", "&")
    assert [e["to"] for e in mail.deliver()] == []
    for _ in range(2):
        forgot(api, "stu@acme.test")  # the hour's three reset emails are spent now
    aws_requests.reset()
    assert forgot(api, "stu@acme.test").status == 202
    assert aws_requests.operations() == known


def test_at_most_three_reset_emails_per_account_and_hour(api, acme, mail, clock):
    new_user(acme, "stu@acme.test", "student")
    mail.deliver()
    for _ in range(5):
        assert forgot(api, "STU@acme.test").status == 202
    assert len(mail.to("stu@acme.test")) == 3
    clock.advance(hours=1)
    assert forgot(api, "stu@acme.test").status == 202
    assert len(mail.to("stu@acme.test")) == 1


def test_a_reset_ends_every_login_lifts_every_lock_and_logs_in(api, acme, mail):
    new_user(acme, "stu@acme.test", "student")
    old = login(api, "acme", "stu@acme.test")
    wrong = {"tenant": "acme", "email": "stu@acme.test", "password": "not the password"}
    for _ in range(5):
        api.post("/auth/login", wrong)
    assert api.post("/auth/login", {**wrong, "password": PASSWORD}).status == 429
    mail.deliver()

    forgot(api, "stu@acme.test")
    [email] = mail.to("stu@acme.test")
    token = link_token(email)
    r = api.post(
        "/auth/password/reset", {"tenant": "acme", "token": token, "password": NEW_PASSWORD}
    )
    assert r.status == 200, r.body
    fresh = r.json
    # Every other login is over, access tokens too.
    assert rename(api, old["access_token"]).status == 401
    assert api.post("/auth/refresh", {"refresh_token": old["refresh_token"]}).status == 401
    assert api.get("/users/me", token=fresh["access_token"]).status == 200
    # The lock is lifted and only the new password works.
    assert api.post("/auth/login", {**wrong, "password": PASSWORD}).status == 401
    assert login(api, "acme", "stu@acme.test", NEW_PASSWORD)["access_token"]
    # Single use, and the user is told their password changed.
    again = api.post(
        "/auth/password/reset", {"tenant": "acme", "token": token, "password": PASSWORD}
    )
    assert again.status == 400 and again.error_code == "invalid_token"
    [notice] = mail.to("stu@acme.test")
    assert notice["subject"] == "Your tutorbook password was changed"


def test_a_reset_link_expires_after_thirty_minutes_and_a_newer_one_voids_it(api, acme, mail, clock):
    new_user(acme, "stu@acme.test", "student")
    mail.deliver()
    forgot(api, "stu@acme.test")
    forgot(api, "stu@acme.test")
    first, second = mail.to("stu@acme.test")
    body = {"tenant": "acme", "password": NEW_PASSWORD}
    assert api.post("/auth/password/reset", {**body, "token": link_token(first)}).status == 400
    clock.advance(minutes=31)
    r = api.post("/auth/password/reset", {**body, "token": link_token(second)})
    assert r.status == 400 and r.error_code == "invalid_token"


def test_inactive_and_invited_accounts_get_no_reset_email(api, acme, mail):
    stu = new_user(acme, "stu@acme.test", "student")
    api.patch(f"/users/{stu['id']}", {"active": False}, token=acme.token)
    invite(api, acme)
    mail.deliver()
    assert forgot(api, "stu@acme.test").status == 202
    assert forgot(api, "ivy@acme.test").status == 202
    assert mail.deliver() == []


# --- change password -------------------------------------------------------------------------
def change(api: Api, token: str, current: str, new: str = NEW_PASSWORD) -> Any:
    return api.post(
        "/users/me/password", {"current_password": current, "new_password": new}, token=token
    )


def test_changing_the_password_ends_the_other_logins_and_emails_the_user(api, acme, mail):
    new_user(acme, "stu@acme.test", "student")
    mine = login(api, "acme", "stu@acme.test")
    other = login(api, "acme", "stu@acme.test")
    mail.deliver()
    r = change(api, mine["access_token"], PASSWORD)
    assert r.status == 204 and r.body == b""
    # The other login is over at once (every write refuses its access token; reads may serve
    # a copy of the user's access state at most 60 seconds old).
    assert rename(api, other["access_token"]).status == 401
    assert api.post("/auth/refresh", {"refresh_token": other["refresh_token"]}).status == 401
    # This login carries on after one refresh (every older access token stopped).
    r = api.post("/auth/refresh", {"refresh_token": mine["refresh_token"]})
    assert r.status == 200
    assert api.get("/users/me", token=r.json["access_token"]).status == 200
    assert login(api, "acme", "stu@acme.test", NEW_PASSWORD)["access_token"]
    [notice] = mail.to("stu@acme.test")
    assert notice["subject"] == "Your tutorbook password was changed"


def test_a_wrong_current_password_is_a_failed_login(api, acme):
    new_user(acme, "stu@acme.test", "student")
    tokens = login(api, "acme", "stu@acme.test")
    for _ in range(5):
        r = change(api, tokens["access_token"], "not the password")
        assert r.status == 403 and r.error_code == "forbidden"
    assert change(api, tokens["access_token"], PASSWORD).status == 429
    r = api.post("/auth/login", {"tenant": "acme", "email": "stu@acme.test", "password": PASSWORD})
    assert r.status == 429
    assert change(api, tokens["access_token"], PASSWORD, new="short").status == 422


# --- sessions --------------------------------------------------------------------------------
def login_as(api: Api, agent: str) -> dict[str, Any]:
    r = api.post(
        "/auth/login",
        {"tenant": "acme", "email": "stu@acme.test", "password": PASSWORD},
        headers={"User-Agent": agent},
    )
    assert r.status == 200
    return dict(r.json)


def test_a_user_lists_and_ends_their_own_logins(api, acme):
    new_user(acme, "stu@acme.test", "student")
    laptop = login_as(api, "Laptop Firefox")
    phone = login_as(api, "Phone Safari")
    page = api.get("/auth/sessions", token=laptop["access_token"]).json
    assert page["next_cursor"] is None
    sessions = {s["user_agent"]: s for s in page["items"]}
    assert set(sessions) == {"Laptop Firefox", "Phone Safari"}
    assert sessions["Laptop Firefox"]["current"] is True
    assert sessions["Phone Safari"]["current"] is False
    assert set(sessions["Phone Safari"]) == {
        "id",
        "created_at",
        "last_used_at",
        "expires_at",
        "user_agent",
        "current",
    }
    phone_id = sessions["Phone Safari"]["id"]
    # Another user cannot end it (nor see it).
    assert api.delete(f"/auth/sessions/{phone_id}", token=acme.token).status == 404
    admins = api.get("/auth/sessions", token=acme.token).json["items"]
    assert phone_id not in {s["id"] for s in admins}
    r = api.delete(f"/auth/sessions/{phone_id}", token=laptop["access_token"])
    assert r.status == 204
    assert api.post("/auth/refresh", {"refresh_token": phone["refresh_token"]}).status == 401
    left = api.get("/auth/sessions", token=laptop["access_token"]).json["items"]
    assert [s["user_agent"] for s in left] == ["Laptop Firefox"]
    assert api.delete("/auth/sessions/01NOPE", token=laptop["access_token"]).status == 404


def test_an_admin_ends_every_login_of_a_user_and_their_access_tokens_stop(api, acme):
    stu = new_user(acme, "stu@acme.test", "student")
    one = login(api, "acme", "stu@acme.test")
    two = login(api, "acme", "stu@acme.test")
    r = api.post(f"/users/{stu['id']}/sessions/revoke", token=acme.token)
    assert r.status == 204
    for tokens in (one, two):
        assert rename(api, tokens["access_token"]).status == 401
        assert api.post("/auth/refresh", {"refresh_token": tokens["refresh_token"]}).status == 401
    fresh = login(api, "acme", "stu@acme.test")
    assert len(api.get("/auth/sessions", token=fresh["access_token"]).json["items"]) == 1
    assert api.post("/users/01NOPE/sessions/revoke", token=acme.token).status == 404


# --- refresh grace and session lifetime ------------------------------------------------------
def test_a_spent_refresh_token_gets_the_same_successor_within_the_grace(api, acme, clock):
    new_user(acme, "stu@acme.test", "student")
    first = login(api, "acme", "stu@acme.test")
    answers = [
        api.post("/auth/refresh", {"refresh_token": first["refresh_token"]}) for _ in range(8)
    ]
    assert {a.status for a in answers} == {200}
    assert len({a.json["refresh_token"] for a in answers}) == 1
    successor = answers[0].json["refresh_token"]
    clock.advance(seconds=9)
    assert (
        api.post("/auth/refresh", {"refresh_token": first["refresh_token"]}).json["refresh_token"]
        == successor
    )
    clock.advance(seconds=2)  # the grace is over: reuse ends the login
    assert api.post("/auth/refresh", {"refresh_token": first["refresh_token"]}).status == 401
    assert api.post("/auth/refresh", {"refresh_token": successor}).status == 401


def test_the_grace_holds_for_a_rotation_in_the_last_millisecond_of_a_second(api, acme, clock):
    # The successor carries whole seconds; the rotation's stored time must give the same second.
    new_user(acme, "stu@acme.test", "student")
    first = login(api, "acme", "stu@acme.test")
    clock.now = clock.now.replace(microsecond=999_700)
    rotated = api.post("/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert rotated.status == 200
    again = api.post("/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert again.status == 200, again.body
    assert again.json["refresh_token"] == rotated.json["refresh_token"]


def test_a_login_ends_thirty_days_after_it_began(api, acme, clock):
    new_user(acme, "stu@acme.test", "student")
    tokens = login(api, "acme", "stu@acme.test")
    clock.advance(days=29, hours=23)
    r = api.post("/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert r.status == 200
    clock.advance(hours=1)
    assert api.post("/auth/refresh", {"refresh_token": r.json["refresh_token"]}).status == 401


# --- secrets stay secret ---------------------------------------------------------------------
def test_link_tokens_never_reach_audit_entries_or_logs(api, client, acme, mail, capsys):
    user = invite(api, acme)
    [email] = mail.to("ivy@acme.test")
    token = link_token(email)
    assert accept(api, token).status == 200
    forgot(api, "ivy@acme.test")
    [reset] = mail.to("ivy@acme.test")
    reset_token = link_token(reset)
    api.post("/auth/password/reset", {"tenant": "acme", "token": reset_token, "password": PASSWORD})
    mail.deliver()
    answer = client.lambda_.invoke("record_audit", stream_event(mail.records)).payload
    assert failures(answer) == []
    entries = api.get(f"/audit?entity_id={user['id']}&limit=100", token=acme.token).json["items"]
    assert {e["action"] for e in entries} == {"created", "updated"}
    text = json.dumps(entries)
    for secret in (token, reset_token, "password_hash", "seed", "$argon2"):
        assert secret not in text
    logs = capsys.readouterr()
    assert token not in logs.out + logs.err and reset_token not in logs.out + logs.err


def test_a_reset_request_that_loses_a_race_still_answers_202(api, acme, monkeypatch):
    """Two requests at once: the second one's link write finds the first one's pointer."""
    from chalicelib.db.accounts import AccountRepository
    from chalicelib.errors import Conflict

    def lost(*args: Any, **kwargs: Any) -> None:
        raise Conflict("Another reset link was sent meanwhile; try again.")

    new_user(acme, "stu@acme.test", "student")
    monkeypatch.setattr(AccountRepository, "reset_link", lost)
    r = forgot(api, "stu@acme.test")
    assert r.status == 202 and r.json == {"status": "accepted"}
