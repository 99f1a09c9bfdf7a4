"""/api/docs: an interactive reference drawn from our own OpenAPI document, with every asset
served by the site (nothing from the internet)."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.staticfiles import finders


def test_api_docs_page_uses_only_local_assets_and_the_openapi_document(client: Any) -> None:
    response = client.get("/api/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-spec="/api/openapi.json"' in page
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert not [s for s in sources if s.startswith(("http:", "https:", "//"))]
    assets = [s for s in sources if s.startswith("/static/")]
    assert any("swagger-ui-bundle.js" in s for s in assets)
    for asset in assets:
        assert finders.find(asset.removeprefix("/static/")), asset
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    assert "<script>" not in page  # no inline script: the CSP forbids it


def test_api_docs_refuses_other_methods(client: Any) -> None:
    assert client.post("/api/docs").status_code == 405
