"""The sweeps page: start a sweep from JSON, see its trials, cancel it.

On the session's shared service: its worker may start a trial, which the cancel stops.
"""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from tests.sweeps.specs import grid_sweep


def test_a_sweep_is_started_shown_and_cancelled(page: Page) -> None:
    page.goto("/#/sweeps")
    expect(page.locator("#sweeps")).to_contain_text("No sweeps yet")
    page.locator("#sweep-spec").fill(json.dumps(grid_sweep()))
    page.locator("#sweep-submit").click()
    expect(page.locator("#sweep h2")).to_contain_text("digits-grid")
    expect(page.locator("#trials th").nth(2)).to_have_text("/model/layers/0/units")
    page.locator("#sweep-cancel").click()
    expect(page.locator("#sweep h2 [data-status]")).to_have_text("cancelled")
    page.goto("/#/sweeps")
    expect(page.locator("#sweeps tr[data-sweep]")).to_have_count(1)
