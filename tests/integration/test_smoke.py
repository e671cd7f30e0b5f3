from tests.conftest import sign_up


def test_health(api):
    r = api.get("/health")
    assert r.status == 200 and r.json == {"status": "ok"}
    assert r.headers["x-correlation-id"]


def test_sign_up_and_me(api):
    t = sign_up(api, "acme")
    r = api.get("/users/me", token=t.token)
    assert r.status == 200, r.body
    assert r.json["email"] == "admin@example.com"
    r = api.get("/tenants/me", token=t.token)
    assert r.json["slug"] == "acme"
