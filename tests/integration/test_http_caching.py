"""HTTP caching: tenant data is private and revalidated, the API description is public."""

from __future__ import annotations

from tests.support.accounts import PASSWORD
from tests.support.catalog import make_course
from tests.support.http import Api


def test_tenant_data_is_private_and_revalidated(api: Api, acme) -> None:
    t = acme.token
    cid = make_course(api, t, published=True)["id"]
    origin = {"Origin": "https://app.example"}
    first = api.get(f"/courses/{cid}", token=t, headers=origin)
    assert first.status == 200
    assert first.headers["cache-control"] == "private, no-cache"
    assert first.headers["vary"] == "Authorization, Origin"
    again = api.get(
        f"/courses/{cid}", token=t, headers={**origin, "If-None-Match": first.headers["etag"]}
    )
    assert again.status == 304
    assert again.headers["cache-control"] == "private, no-cache"
    assert again.headers["vary"] == "Authorization, Origin"
    for r in (api.get("/users/me", token=t), api.get("/courses", token=t), api.get("/courses")):
        assert r.headers["cache-control"] == "private, no-cache", r.status
        assert r.headers["vary"] == "Authorization, Origin", r.status


def test_writes_and_tokens_are_never_stored(api: Api, acme) -> None:
    made = api.post("/courses", {"title": "Algebra"}, token=acme.token)
    assert made.status == 201 and made.headers["cache-control"] == "no-store"
    login = api.post(
        "/auth/login",
        {"tenant": acme.slug, "email": acme.admin["email"], "password": PASSWORD},
    )
    assert login.status == 200 and login.headers["cache-control"] == "no-store"


def test_the_api_description_and_its_page_are_public(api: Api) -> None:
    for path in ("/openapi.json", "/docs"):
        r = api.get(path)
        assert r.status == 200
        assert r.headers["cache-control"] == "public, max-age=300"
        assert r.headers["vary"] == "Origin"  # the same answer for every caller
        assert api.get(path, headers={"If-None-Match": r.headers["etag"]}).status == 304
