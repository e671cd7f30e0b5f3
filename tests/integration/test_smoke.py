from tests.support.accounts import new_tenant, sign_up


def test_health(api):
    r = api.get("/health")
    assert r.status == 200 and r.json == {"status": "ok", "checks": {"dynamodb": "ok"}}
    assert r.headers["x-correlation-id"]


def test_sign_up_and_me(api):
    t = sign_up(api, "acme")
    r = api.get("/users/me", token=t.token)
    assert r.status == 200, r.body
    assert r.json["email"] == "admin@example.com"
    r = api.get("/tenants/me", token=t.token)
    assert r.json["slug"] == "acme"


def test_get_me_is_one_dynamodb_request(api, aws_requests):
    t = new_tenant("acme")
    aws_requests.reset()
    assert api.get("/users/me", token=t.token).status == 200
    assert aws_requests.operations() == ["GetItem", "GetItem"]  # the caller's access, the user
    aws_requests.reset()
    assert api.get("/users/me", token=t.token).status == 200
    assert aws_requests.operations() == ["GetItem"]  # a warm container kept the access
