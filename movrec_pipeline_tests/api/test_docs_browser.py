"""The interactive docs in a real browser: /docs loads without a CDN and runs a call through "Try it out".

Chromium from Debian at /usr/bin/chromium (never `playwright install`), as the UI test.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from movrec_pipeline import query
from movrec_pipeline.cli import render
from movrec_pipeline_tests.api.conftest import ARTIFACTS, ApiServer

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 60_000


def test_docs_try_it_out_runs_a_call(api: ApiServer, client: httpx.Client) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium (CI's .ci/run does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page()
        outside: list[str] = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(api.url) else None)
        page.goto(f"{api.url}/docs", timeout=TIMEOUT_MS)
        operation = page.locator("#operations-recommendations-user_recommendations")
        operation.locator(".opblock-summary").click()
        operation.get_by_role("button", name="Try it out").click()
        operation.locator("input[placeholder='user_id']").fill("7")
        operation.locator("input[placeholder='limit']").fill("3")
        operation.get_by_role("button", name="Execute").click()
        # the row's cell: the table's header cell ("Code") has the class response-col_status too
        status = operation.locator(".live-responses-table tr.response .response-col_status").first
        status.wait_for(timeout=TIMEOUT_MS)
        body_text = operation.locator(".live-responses-table .microlight").first.inner_text(timeout=TIMEOUT_MS)
        page.screenshot(path=str(ARTIFACTS / "api_docs_try_it_out.png"), full_page=True)
        shown_status = status.inner_text().strip()
        browser.close()
    assert shown_status == "200", shown_status
    with query.connect() as conn:
        expected = json.loads(render.to_json(query.recommend_for_user(7, 3, conn=conn)))
    assert json.loads(body_text) == expected
    assert not outside, f"/docs fetched from elsewhere: {outside[:3]}"
    assert Path(ARTIFACTS / "api_docs_try_it_out.png").exists()
