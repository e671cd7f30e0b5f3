"""DynamoDB requests of each account-lifecycle route (one request per access pattern; a
change is one transaction). Write routes start with the caller's access read."""

from __future__ import annotations

from typing import Any

from tests.integration.test_accounts import NEW_PASSWORD, Mail, link_token
from tests.support.accounts import PASSWORD, login, new_user


def test_dynamodb_requests_per_account_route(api, client, aws, acme, aws_requests):
    mail = Mail(client, aws)
    mail.deliver()
    new_user(acme, "stu@acme.test", "student")
    measured: dict[str, list[str]] = {}

    def measure(name: str, call: Any) -> Any:
        aws_requests.reset()
        answer = call()
        measured[name] = aws_requests.operations()
        assert answer.status < 400, (name, answer.body)
        return answer

    invited = measure(
        "POST /users (invite)",
        lambda: api.post(
            "/users", {"email": "ivy@acme.test", "name": "Ivy", "role": "student"}, token=acme.token
        ),
    ).json
    measure(
        "POST /users/{id}/invitation",
        lambda: api.post(f"/users/{invited['id']}/invitation", token=acme.token),
    )
    [_, latest] = mail.to("ivy@acme.test")
    body = {"tenant": "acme", "token": link_token(latest), "password": NEW_PASSWORD}
    measure("POST /auth/invitation/accept", lambda: api.post("/auth/invitation/accept", body))
    stu = login(api, "acme", "stu@acme.test")
    other = login(api, "acme", "stu@acme.test")
    forgot = {"tenant": "acme", "email": "stu@acme.test"}
    measure("POST /auth/password/forgot", lambda: api.post("/auth/password/forgot", forgot))
    [reset] = mail.to("stu@acme.test")
    reset_body = {"tenant": "acme", "token": link_token(reset), "password": PASSWORD}
    fresh = measure(
        "POST /auth/password/reset", lambda: api.post("/auth/password/reset", reset_body)
    ).json
    assert api.post("/auth/refresh", {"refresh_token": other["refresh_token"]}).status == 401
    del stu
    second = login(api, "acme", "stu@acme.test")
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    measure(
        "POST /users/me/password",
        lambda: api.post("/users/me/password", change, token=fresh["access_token"]),
    )
    renewed = api.post("/auth/refresh", {"refresh_token": fresh["refresh_token"]}).json
    third = login(api, "acme", "stu@acme.test", NEW_PASSWORD)
    sessions = measure(
        "GET /auth/sessions", lambda: api.get("/auth/sessions", token=renewed["access_token"])
    ).json["items"]
    assert len(sessions) == 2 and second["refresh_token"]
    other_id = next(s["id"] for s in sessions if not s["current"])
    measure(
        "DELETE /auth/sessions/{id}",
        lambda: api.delete(f"/auth/sessions/{other_id}", token=renewed["access_token"]),
    )
    del third
    user_id = api.get("/users/me", token=renewed["access_token"]).json["id"]
    measure(
        "POST /users/{id}/sessions/revoke",
        lambda: api.post(f"/users/{user_id}/sessions/revoke", token=acme.token),
    )
    again = login(api, "acme", "stu@acme.test", NEW_PASSWORD)
    measure(
        "POST /auth/refresh",
        lambda: api.post("/auth/refresh", {"refresh_token": again["refresh_token"]}),
    )
    measure(
        "POST /auth/refresh (spent token within the grace)",
        lambda: api.post("/auth/refresh", {"refresh_token": again["refresh_token"]}),
    )

    # Writes begin with the caller's access (GetItem); the tenant's slug is cached per container.
    assert measured == {
        # access, tenant (for the link's slug), then user + credential + link + pointer at once
        "POST /users (invite)": ["GetItem", "GetItem", "TransactWriteItems"],
        # access, tenant, user, current link; new link + pointer + old link voided + user
        "POST /users/{id}/invitation": [
            *["GetItem"] * 4,
            "TransactWriteItems",
        ],
        # link by hash, user; link spent + pointer + credential + user; the new login
        "POST /auth/invitation/accept": [
            *["GetItem"] * 3,
            "TransactWriteItems",
            "PutItem",
        ],
        # credential, reset-email count, user, current link; the link (real accounts only)
        "POST /auth/password/forgot": [
            "GetItem",
            "UpdateItem",
            "GetItem",
            "GetItem",
            "TransactWriteItems",
        ],
        # link, user; the change; end every login; lift every lock; the new login
        "POST /auth/password/reset": [
            "GetItem",
            "GetItem",
            "TransactWriteItems",
            "Query",
            "BatchWriteItem",
            "Query",
            "BatchWriteItem",
            "PutItem",
        ],
        # access, user, count the check, credential, settle it, user, the change (which moves
        # this login along in the same transaction), end the others
        "POST /users/me/password": [
            "GetItem",
            "GetItem",
            "UpdateItem",
            "GetItem",
            "UpdateItem",
            "GetItem",
            "TransactWriteItems",
            "Query",
            "BatchWriteItem",
        ],
        # (a read: the caller's access may be a cached copy) the sessions index
        "GET /auth/sessions": ["Query"],
        "DELETE /auth/sessions/{id}": ["GetItem", "UpdateItem"],
        # access, user, raise its authorization version, its logins, end them
        "POST /users/{id}/sessions/revoke": [
            "GetItem",
            "GetItem",
            "UpdateItem",
            "Query",
            "BatchWriteItem",
        ],
        # user's access, the login, the rotation
        "POST /auth/refresh": ["GetItem", "GetItem", "UpdateItem"],
        "POST /auth/refresh (spent token within the grace)": ["GetItem", "GetItem"],
    }
