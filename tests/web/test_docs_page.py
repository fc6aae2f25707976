"""``/docs`` is served from the bank's own files: nothing is loaded from another host
(a bank's intranet has no CDN, and a third party's script has no place on its site)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from rongbank.platform import Platform
from tests.web.conftest import needs_chromium


def test_the_docs_page_references_only_its_own_files(api: TestClient) -> None:
    page = api.get("/docs")
    assert page.status_code == 200
    referenced = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert referenced, page.text
    assert all(not urlsplit(url).netloc and url.startswith("/") for url in referenced)
    for url in referenced:
        assert api.get(url).status_code == 200, url
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_redoc_from_a_cdn_is_gone(api: TestClient) -> None:
    assert api.get("/redoc").status_code == 404


@needs_chromium[0]
@needs_chromium[1]
def test_swagger_ui_shows_the_operations_from_this_server_alone(
    server: tuple[str, Platform], page: Page
) -> None:
    base, _ = server
    requested: list[str] = []
    refused: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.on("response", lambda r: refused.append(r.url) if r.status >= 400 else None)
    page.on("console", lambda m: refused.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.locator(".information-container .title")).to_contain_text("Rongbank API")
    assert requested
    assert [url for url in requested if not url.startswith((base, "data:"))] == []
    assert refused == []  # no script or style refused by the content security policy
