"""Account lifecycle over real HTTP against the local stack: invitation, forgotten password,
changed password, sessions, and refresh that survives concurrent use of one token. Links are
read from the emails the emulated SES accepted."""

from __future__ import annotations

import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.conftest import REFRESH_GRACE_SECONDS, LocalStack
from tests.e2e.test_auth_journey import call, error_code

pytestmark = pytest.mark.e2e

CHOSEN = "ivy's own long passphrase"
RESET = "ivy's reset passphrase"
CHANGED = "ivy's changed passphrase"
_TOKEN = re.compile(r"token=([A-Za-z0-9_-]{22,})")


def email_to(stack: LocalStack, address: str, subject: str, count: int = 1) -> dict[str, Any]:
    """The ``count``-th email to ``address`` whose subject starts with ``subject``."""

    def found() -> list[dict[str, Any]]:
        mails = [
            m
            for m in stack.emails()
            if address in json.dumps(m.get("destinations"))
            and str(m.get("subject", "")).startswith(subject)
        ]
        return mails if len(mails) >= count else []

    mails = stack.wait_for(found, timeout=30)
    assert mails, stack.log_text()[-3000:]
    return dict(mails[count - 1])


def link_token(mail: dict[str, Any]) -> str:
    found = _TOKEN.search(json.dumps(mail).replace("&amp;", "&"))
    assert found, mail
    return found.group(1)


def login(stack: LocalStack, tenant: str, email: str, password: str, agent: str = "e2e") -> Any:
    return call(
        stack,
        "POST",
        "/auth/login",
        {"tenant": tenant, "email": email, "password": password},
        headers={"User-Agent": agent},
    )


def refresh(stack: LocalStack, token: str) -> Any:
    return call(stack, "POST", "/auth/refresh", {"refresh_token": token})


def test_invite_reset_change_sessions_and_concurrent_refresh(local_stack: LocalStack) -> None:
    s = local_stack
    tenant = s.logins["admin"].tenant
    admin = s.login("admin")["access_token"]
    address = f"ivy-{uuid.uuid4().hex[:10]}@demo.example"

    # Invite -> accept -> login.
    r = call(s, "POST", "/users", {"email": address, "name": "Ivy", "role": "student"}, admin)
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]
    assert r.json()["invitation_pending"] is True
    invitation = email_to(s, address, "You are invited")
    assert "http://127.0.0.1:3000/accept-invite?tenant=" in json.dumps(invitation).replace(
        "&amp;", "&"
    )
    assert login(s, tenant, address, CHOSEN).status_code == 401
    token = link_token(invitation)
    r = call(
        s, "POST", "/auth/invitation/accept", {"tenant": tenant, "token": token, "password": CHOSEN}
    )
    assert r.status_code == 200, r.text
    first_login = r.json()
    r = login(s, tenant, address, CHOSEN, agent="second tab")
    assert r.status_code == 200
    second_login = r.json()

    # Forgot -> reset (the link from the email) -> every older login is dead.
    r = call(s, "POST", "/auth/password/forgot", {"tenant": tenant, "email": address.upper()})
    assert r.status_code == 202
    r = call(s, "POST", "/auth/password/forgot", {"tenant": tenant, "email": "no-" + address})
    assert r.status_code == 202
    reset_mail = email_to(s, address, "Reset your tutorbook password")
    r = call(
        s,
        "POST",
        "/auth/password/reset",
        {"tenant": tenant, "token": link_token(reset_mail), "password": RESET},
    )
    assert r.status_code == 200, r.text
    after_reset = r.json()
    for old in (first_login, second_login):
        assert refresh(s, old["refresh_token"]).status_code == 401
        patch = call(s, "PATCH", f"/users/{user_id}", {"name": "Old"}, old["access_token"])
        assert patch.status_code == 401
    r = call(
        s,
        "POST",
        "/auth/password/reset",
        {"tenant": tenant, "token": link_token(reset_mail), "password": CHANGED},
    )
    assert r.status_code == 400 and error_code(r) == "invalid_token"
    email_to(s, address, "Your tutorbook password was changed")

    # Change password: the current login carries on (after one refresh), others end.
    other = login(s, tenant, address, RESET, agent="other device").json()
    r = call(
        s,
        "POST",
        "/users/me/password",
        {"current_password": RESET, "new_password": CHANGED},
        after_reset["access_token"],
    )
    assert r.status_code == 204, r.text
    assert refresh(s, other["refresh_token"]).status_code == 401
    r = refresh(s, after_reset["refresh_token"])
    assert r.status_code == 200, r.text
    current = r.json()
    email_to(s, address, "Your tutorbook password was changed", count=2)
    assert login(s, tenant, address, RESET).status_code == 401

    # Sessions: list, end one, and an admin ends them all.
    phone = login(s, tenant, address, CHANGED, agent="phone").json()
    r = call(s, "GET", "/auth/sessions", token=current["access_token"])
    assert r.status_code == 200, r.text
    sessions = {x["user_agent"]: x for x in r.json()["items"]}
    assert set(sessions) >= {"phone"}
    assert [x["current"] for x in r.json()["items"]].count(True) == 1
    r = call(
        s, "DELETE", f"/auth/sessions/{sessions['phone']['id']}", token=current["access_token"]
    )
    assert r.status_code == 204
    assert refresh(s, phone["refresh_token"]).status_code == 401
    r = call(s, "POST", f"/users/{user_id}/sessions/revoke", token=admin)
    assert r.status_code == 204
    patch = call(s, "PATCH", f"/users/{user_id}", {"name": "Gone"}, current["access_token"])
    assert patch.status_code == 401
    assert refresh(s, current["refresh_token"]).status_code == 401

    # Eight concurrent refreshes with one token: all succeed with the same new token, and the
    # login has exactly one live refresh token.
    tab = login(s, tenant, address, CHANGED, agent="tabs").json()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: refresh(s, tab["refresh_token"]), range(8)))
    assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
    successors = {a.json()["refresh_token"] for a in answers}
    assert len(successors) == 1
    [successor] = successors
    r = call(s, "GET", "/auth/sessions", token=answers[0].json()["access_token"])
    assert [x["user_agent"] for x in r.json()["items"]] == ["tabs"]

    # After the grace, the spent token is reuse: the whole login ends.
    time.sleep(REFRESH_GRACE_SECONDS + 0.5)
    assert refresh(s, tab["refresh_token"]).status_code == 401
    assert refresh(s, successor).status_code == 401

    # No log record carries a link token (the console prints the emails themselves: that is
    # how a developer reads them on the local stack).
    records = [line for line in s.log_text().splitlines() if line.startswith("{")]
    assert records and not [line for line in records if token in line]
