"""User management and role rules."""

from __future__ import annotations

from tests.support.accounts import PASSWORD, add_user, login, new_tenant, new_user, token_for


def test_admin_creates_users_and_email_is_unique_per_tenant(api):
    acme = new_tenant("acme")
    globex = new_tenant("globex")
    user = add_user(api, acme.token, "Kim@Example.com", "instructor", name="Kim")
    assert user["email"] == "kim@example.com" and user["role"] == "instructor"
    assert set(user) == {
        "id",
        "tenant_id",
        "email",
        "name",
        "role",
        "active",
        "created_at",
        "invitation_pending",
        "time_zone",
    }
    assert user["invitation_pending"] is False and user["time_zone"] is None
    r = api.post(
        "/users",
        {"email": "kim@EXAMPLE.com", "name": "Kim 2", "role": "student", "password": PASSWORD},
        token=acme.token,
    )
    assert r.status == 409 and r.error_code == "conflict"
    # The same email in another tenant is a different person.
    other = add_user(api, globex.token, "kim@example.com", "student")
    assert other["tenant_id"] == globex.tenant["id"]
    assert login(api, "globex", "kim@example.com")["access_token"]


def test_only_admins_create_users(api):
    acme = new_tenant("acme")
    teacher = token_for(new_user(acme, "teach@acme.test", "instructor"))
    r = api.post(
        "/users",
        {"email": "x@acme.test", "name": "X", "role": "admin", "password": PASSWORD},
        token=teacher,
    )
    assert r.status == 403 and r.error_code == "forbidden"


def test_create_user_validation(api):
    acme = new_tenant("acme")
    cases = [
        {"email": "not-an-email", "name": "X", "role": "student", "password": PASSWORD},
        {"email": "a#b@x.test", "name": "X", "role": "student", "password": PASSWORD},
        {"email": "a@x.test", "name": "X", "role": "superuser", "password": PASSWORD},
        {"email": "a@x.test", "name": "", "role": "student", "password": PASSWORD},
        {"email": "a@x.test", "name": "n" * 201, "role": "student", "password": PASSWORD},
        {"email": "a@x.test", "name": "X", "role": "student", "password": "p" * 129},
        {"email": "a@x.test", "name": "X", "role": "student", "password": PASSWORD, "admin": True},
        {"email": "a@x.test", "name": "X", "role": "student", "password": None, "x": 1},
    ]
    for body in cases:
        r = api.post("/users", body, token=acme.token)
        assert r.status == 422, body
        assert r.json["error"]["details"]
    users = api.get("/users", token=acme.token).json["items"]
    assert [u["email"] for u in users] == ["admin@example.com"]


def test_listing_rules_and_role_filter(api):
    acme = new_tenant("acme")
    for i in range(3):
        new_user(acme, f"inst{i}@acme.test", "instructor")
    stu_user = new_user(acme, "stu@acme.test", "student")
    everyone = api.get("/users?limit=100", token=acme.token).json
    assert len(everyone["items"]) == 5 and everyone["next_cursor"] is None
    instructors = api.get("/users?role=instructor", token=acme.token).json["items"]
    assert sorted(u["email"] for u in instructors) == [f"inst{i}@acme.test" for i in range(3)]
    stu = token_for(stu_user)
    assert len(api.get("/users?role=instructor", token=stu).json["items"]) == 3
    assert api.get("/users", token=stu).status == 403
    assert api.get("/users?role=student", token=stu).status == 403
    assert api.get("/users?role=wizard", token=acme.token).status == 422


def test_pagination_walks_every_user_once(api, aws_requests):
    acme = new_tenant("acme")
    for i in range(6):
        new_user(acme, f"s{i}@acme.test", "student")
    api.get("/users/me", token=acme.token)  # the caller's access is read, then kept a while
    seen, cursor, pages = [], None, 0
    while True:
        path = "/users?limit=3" + (f"&cursor={cursor}" if cursor else "")
        aws_requests.reset()
        page = api.get(path, token=acme.token).json
        assert aws_requests.operations() == ["Query"]  # one request per page
        seen += [u["id"] for u in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 7
    assert pages >= 3


def test_limits_and_cursors_are_checked(api):
    acme = new_tenant("acme")
    globex = new_tenant("globex")
    for i in range(3):
        new_user(acme, f"s{i}@acme.test", "student")
        new_user(globex, f"s{i}@globex.test", "student")
    for bad in ["0", "101", "ten"]:
        r = api.get(f"/users?limit={bad}", token=acme.token)
        assert r.status == 422 and r.json["error"]["details"][0]["field"] == "limit"
    cursor = api.get("/users?limit=1", token=acme.token).json["next_cursor"]
    assert cursor
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    assert api.get(f"/users?cursor={tampered}", token=acme.token).status == 400
    # A cursor is bound to its tenant and its query.
    r = api.get(f"/users?cursor={cursor}", token=globex.token)
    assert r.status == 400 and r.error_code == "bad_request"
    assert api.get(f"/users?role=student&cursor={cursor}", token=acme.token).status == 400
    assert api.get("/users?cursor=garbage", token=acme.token).status == 400


def test_get_user_visibility(api):
    acme = new_tenant("acme")
    a = new_user(acme, "a@acme.test", "student")
    b = new_user(acme, "b@acme.test", "student")
    a_token = token_for(a)
    assert api.get(f"/users/{a['id']}", token=a_token).json["email"] == "a@acme.test"
    r = api.get(f"/users/{b['id']}", token=a_token)
    assert r.status == 404 and r.error_code == "not_found"
    assert api.get(f"/users/{b['id']}", token=acme.token).status == 200
    assert api.get("/users/01NOSUCHUSER", token=acme.token).status == 404


def test_patch_rules(api):
    acme = new_tenant("acme")
    a = new_user(acme, "a@acme.test", "student")
    b = new_user(acme, "b@acme.test", "student")
    a_token = token_for(a)
    r = api.patch(f"/users/{a['id']}", {"name": "Alice"}, token=a_token)
    assert r.status == 200 and r.json["name"] == "Alice"
    assert api.patch(f"/users/{a['id']}", {"role": "admin"}, token=a_token).status == 403
    assert api.patch(f"/users/{a['id']}", {"active": False}, token=a_token).status == 403
    assert api.patch(f"/users/{b['id']}", {"name": "Bob"}, token=a_token).status == 404
    assert api.patch(f"/users/{a['id']}", {"email": "x@y.z"}, token=acme.token).status == 422
    r = api.patch(f"/users/{a['id']}", {"role": "instructor", "name": "Al"}, token=acme.token)
    assert r.status == 200 and r.json["role"] == "instructor" and r.json["name"] == "Al"
    instructors = api.get("/users?role=instructor", token=acme.token).json["items"]
    assert [u["id"] for u in instructors] == [a["id"]]
    # Nobody changes their own role or active flag (an admin cannot lock the tenant out).
    admin_id = acme.admin["id"]
    assert api.patch(f"/users/{admin_id}", {"active": False}, token=acme.token).status == 403
    assert api.patch(f"/users/{admin_id}", {"role": "student"}, token=acme.token).status == 403
    assert api.get("/users/me", token=acme.token).json["role"] == "admin"
