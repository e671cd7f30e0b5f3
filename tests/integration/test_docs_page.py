"""``GET /docs``: the HTML page rendering the OpenAPI document, served with its assets by the app
(public, cacheable, nothing from another origin)."""

from __future__ import annotations

import re

from tests.support.http import Api


def test_the_page_is_public_html_that_loads_only_this_apis_assets(api: Api) -> None:
    r = api.get("/docs")
    assert r.status == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"].startswith("public")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    html = r.body.decode()
    assert "//" not in re.sub(r"<!--.*?-->", "", html).replace("://", "")  # no other origin
    assets = re.findall(r'(?:src|href)="(docs/[^"?]+)\?v=([0-9a-f]+)"', html)
    assert {name for name, _ in assets} == {
        "docs/swagger-ui.css",
        "docs/swagger-ui-bundle.js",
        "docs/swagger-initializer.js",
    }
    for name, version in assets:
        asset = api.get(f"/{name}?v={version}")
        assert asset.status == 200, name
        assert asset.headers["etag"] == f'"{version}"'  # the page names the served content
        assert "immutable" in asset.headers["cache-control"]
        assert len(asset.body) > 100
    init = api.get("/docs/swagger-initializer.js").body.decode()
    assert '"openapi.json"' in init and "validatorUrl: null" in init


def test_a_current_copy_is_not_sent_again(api: Api) -> None:
    for path in ("/docs", "/docs/swagger-ui-bundle.js"):
        first = api.get(path)
        again = api.get(path, headers={"If-None-Match": first.headers["etag"]})
        assert again.status == 304 and again.body == b"", path
        assert api.get(path, headers={"If-None-Match": '"old"'}).status == 200
