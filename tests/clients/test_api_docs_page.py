"""`/docs` in a real browser with no network but this server: Swagger UI comes from the package."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from test_web_page import CHROMIUM, CHROMIUM_ARGS, wait_for

from fixtures_client_server import Served

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium "
                       "(apt-get install chromium; .ci/run does this)"),
]


@pytest.fixture(scope="module")
def offline_page(served: Served) -> Iterator[tuple[Any, list[str], list[str]]]:
    """A page whose every request off 127.0.0.1 is refused, as on a network with no way out;
    with the requests it tried to make elsewhere and the CSP refusals it met."""
    from playwright.sync_api import sync_playwright

    elsewhere: list[str] = []
    refused: list[str] = []

    def only_this_server(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            page.route("**/*", only_this_server)
            page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
            yield page, elsewhere, refused
        finally:
            browser.close()


def test_docs_renders_every_operation_with_no_network(served: Served, offline_page: tuple[Any, list[str], list[str]]) -> None:
    page, elsewhere, refused = offline_page
    page.goto(f"{served.url}/docs")
    wait_for(page, "document.querySelectorAll('.opblock').length > 0", timeout=30_000)
    spec = httpx.get(f"{served.url}/openapi.json").json()
    operations = sum(len([m for m in item if m in {"get", "put", "post", "patch", "delete", "head", "options"}])
                     for item in spec["paths"].values())
    assert page.locator(".opblock").count() == operations
    assert page.locator(".opblock-summary-path", has_text="/v1/audio/{audio_id}/content").count() >= 1
    assert page.title() == "audiostore - API docs"
    # opening an operation works too (Swagger UI draws its parameters from the spec)
    page.locator(".opblock-summary", has_text="/v1/health").first.click()
    page.wait_for_selector(".opblock.is-open")
    assert elsewhere == [] and refused == []


def test_docs_page_loads_only_from_this_origin(served: Served) -> None:
    page = httpx.get(f"{served.url}/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    assert page.headers["x-content-type-options"] == "nosniff"
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"):
        got = httpx.get(f"{served.url}/docs-assets/{asset}")
        assert got.status_code == 200 and len(got.content) > 1000, asset
