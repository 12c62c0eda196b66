"""With TRAINSERVE_API_KEY set, the dashboard asks for the key once and keeps it for the tab."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.fixtures.live import LiveService
from tests.web.conftest import watched_page


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    svc = LiveService(tmp_path_factory.mktemp("keyed") / "var", workers=0, api_key="s3cret").start(
        wait_ready=False
    )
    yield svc
    svc.stop(signal.SIGKILL)


def test_the_key_is_asked_once_and_kept_for_the_session(
    browser: Browser, keyed: LiveService, request: pytest.FixtureRequest
) -> None:
    with watched_page(browser, str(keyed.http.base_url).rstrip("/"), request) as page:
        page.goto("/#/runs")
        dialog = page.locator("#key-dialog")
        expect(dialog).to_be_visible()
        page.locator("#key-input").fill("wrong")
        page.locator("#key-dialog button").click()
        expect(page.locator("#key-problem")).to_contain_text("refused")
        page.locator("#key-input").fill("s3cret")
        page.locator("#key-dialog button").click()
        expect(page.locator("#runs")).to_contain_text("No runs yet")
        page.goto("/#/new")
        expect(page.locator("#valid")).to_be_visible()  # validated with the kept key
        expect(dialog).not_to_be_visible()
        assert page.evaluate("sessionStorage.getItem('trainserve-api-key')") == "s3cret"
