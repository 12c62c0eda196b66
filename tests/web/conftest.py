"""Browser tests: Playwright for Python driving Debian's chromium against a real service.

Playwright's own browser download cannot work on these machines, so the system browser is
launched by path. A missing browser FAILS these tests with the command that installs it
(`make test` runs that command first when it can); they never skip.

One `trainserve serve` (API + one worker) is shared by the whole session, with two runs
trained for two epochs each that every test can use (the API key's module starts one keyed
service of its own). Every test's page, from the `page` fixture or `watched_page`, gets a
fresh context whose console errors fail the test, and whose screenshot is saved under
$TRAINSERVE_SCREENSHOTS (default var/test-screenshots) when the test fails.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.fixtures.live import ROOT, LiveService, load_example

CHROMIUM = os.environ.get("TRAINSERVE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
INSTALL_HINT = "apt-get update && apt-get install -y chromium   (as root on Debian)"
# Generous: the first prediction loads TensorFlow and the model into the API process, and the
# machine may be busy; a passing test waits only as long as it needs.
TIMEOUT_MS = 30_000
expect.set_options(timeout=TIMEOUT_MS)
SCREENSHOTS = Path(os.environ.get("TRAINSERVE_SCREENSHOTS", ROOT / "var" / "test-screenshots"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent == Path(__file__).parent:
            item.add_marker(pytest.mark.slow)  # a server, a worker and real training
            item.add_marker(pytest.mark.browser)
            # The first test to ask for a shared run waits for its training.
            item.add_marker(pytest.mark.timeout(900))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)  # read by the page fixture
    return report


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(f"The browser tests need chromium at {CHROMIUM}. Install it: {INSTALL_HINT}")
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield b
    b.close()


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    svc = LiveService(tmp_path_factory.mktemp("web") / "var", workers=1).start(wait_ready=False)
    # The worker imports TensorFlow before its first heartbeat: minutes on a busy machine.
    svc._wait("/readyz", timeout=600)
    yield svc
    svc.stop(signal.SIGKILL)


def succeeded(svc: LiveService, run_id: str) -> dict[str, Any]:
    run = svc.wait_for(run_id, timeout=300)
    assert run["status"] == "succeeded", run
    return run


@pytest.fixture(scope="session")
def trained(service: LiveService) -> dict[str, dict[str, Any]]:
    """The session's two runs, both queued at once, two epochs each:

    - zero_one: the README's 0-vs-1 network on mnist-5k (at a higher learning rate than the
      README's: as sure of a drawn 1 after two epochs as after twenty);
    - digits: a ten-class softmax on mnist-5k, trained briefly so it gets some test images
      wrong.

    While the worker trains the second, the first is loaded into the API process
    (TensorFlow's first import there takes ~10-30 s on a busy machine), so that the
    browser's first prediction is answered in milliseconds.
    """
    zero_spec = load_example("zero-vs-one", epochs=2)
    zero_spec["training"]["optimizer"]["learning_rate"] = 0.01
    digits_spec = load_example("digits-softmax", epochs=2)
    digits_spec["name"] = "digits-brief"
    zero_id, digits_id = (service.submit(spec)["id"] for spec in (zero_spec, digits_spec))
    zero_one = succeeded(service, zero_id)
    pixels = [[0.0] * 28 for _ in range(28)]
    resp = service.http.post(
        f"/v1/runs/{zero_id}/predict?preprocess=none", json={"instances": [pixels]}, timeout=180
    )
    assert resp.status_code == 200, resp.text
    return {"zero_one": zero_one, "digits": succeeded(service, digits_id)}


@pytest.fixture(scope="session")
def zero_one(trained: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return trained["zero_one"]


@pytest.fixture(scope="session")
def digits(trained: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return trained["digits"]


class PageWatch:
    """What a page did that a user would see as broken: console errors, uncaught exceptions,
    and any request that tried to leave this machine (the dashboard must work offline)."""

    def __init__(self, page: Page, base: str) -> None:
        self.errors: list[str] = []
        self.external: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.route("**/*", self._route(base))

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type != "error":
            return
        # Chromium logs every 4xx answer to fetch; one from the API that the page shows the
        # user (a 422 while typing a spec, a 409) is the page working, not a broken page.
        url = str(msg.location.get("url", ""))
        if "/v1/" in url and re.search(r"status of 4\d\d", msg.text):
            return
        self.errors.append(f"console: {msg.text} at {url}")

    def _route(self, base: str) -> Any:
        def handle(route: Any) -> None:
            url = route.request.url
            if url.startswith((base, "data:", "blob:")):
                route.continue_()
            else:
                self.external.append(url)
                route.abort()

        return handle


@contextmanager
def watched_page(browser: Browser, base: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh page on ``base`` that fails the test on console errors, uncaught exceptions
    or requests leaving the machine, with a screenshot saved when anything failed."""
    context = browser.new_context(base_url=base, viewport={"width": 1200, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    watch = PageWatch(pg, base)
    try:
        yield pg
    finally:
        report = getattr(request.node, "report_call", None)
        failed = report is not None and report.failed
        if failed or watch.errors or watch.external or sys.exc_info()[0] is not None:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            pg.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
        context.close()
    assert not watch.errors, watch.errors
    assert not watch.external, f"the page tried to reach other hosts: {watch.external}"


@pytest.fixture
def page(browser: Browser, service: LiveService, request: pytest.FixtureRequest) -> Iterator[Page]:
    with watched_page(browser, str(service.http.base_url).rstrip("/"), request) as pg:
        yield pg
