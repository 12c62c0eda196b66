"""The dashboard in a real browser, against a real service that trains real networks."""

from __future__ import annotations

import base64
import io
import json
import re
from typing import Any

from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect

from tests.fixtures.live import LiveService, load_example, read_events

POINTS = "Number(document.querySelector('#curves')?.dataset.points)"


def points(page: Page) -> int:
    return int(page.locator("#curves").get_attribute("data-points") or 0)


def test_a_spec_submitted_from_the_editor_draws_its_curves_live_and_can_be_cancelled(
    page: Page, service: LiveService, zero_one: dict[str, Any], digits: dict[str, Any]
) -> None:
    # Asking for the shared runs first leaves the single worker to this run. On the 8x8
    # digits an epoch takes a fraction of a second: points come quickly, and 100 epochs
    # still outlast the test.
    spec = load_example("digits-softmax", epochs=100, batch_size=8)
    spec["name"], spec["dataset"] = "watched-live", {"name": "digits"}
    page.goto("/#/new")
    expect(page.locator("#valid")).to_be_visible()  # the starter spec is valid
    page.locator("#spec").fill(json.dumps(spec, indent=2))
    expect(page.locator("#valid")).to_be_visible()
    page.locator("#submit").click()
    page.wait_for_url(re.compile(r"#/runs/[0-9a-f]{22}$"))
    run_id = page.url.rsplit("/", 1)[-1]
    try:
        # The page loaded once; every point after that came over the event stream.
        page.wait_for_function(f"{POINTS} >= 1", timeout=120_000)
        seen = points(page)
        page.wait_for_function(f"{POINTS} >= {seen + 2}", timeout=120_000)
        expect(page.locator("#run-head [data-status]")).to_have_text("running")
        page.locator("#cancel").click()
        expect(page.locator("#run-head [data-status]")).to_have_text("cancelled", timeout=60_000)
    finally:  # never leave the shared worker busy with it
        service.http.post(f"/v1/runs/{run_id}/cancel")
    run = service.run(run_id)
    assert run["status"] == "cancelled" and run["progress"]["epoch"] < 100
    assert points(page) == len(service.epochs(run_id))


def test_a_bad_spec_shows_its_pointers_before_submit(page: Page, service: LiveService) -> None:
    before = len(service.http.get("/v1/runs?limit=200").json()["items"])
    spec = load_example("zero-vs-one")
    spec["model"]["layers"][0]["activation"] = "sigmoidd"
    spec["training"]["epochs"] = 0
    page.goto("/#/new")
    page.locator("#spec").fill(json.dumps(spec, indent=2))
    verdict = page.locator("#verdict")
    expect(verdict.locator('[data-pointer="/model/layers/0/activation"]')).to_be_visible()
    expect(verdict.locator('[data-pointer="/training/epochs"]')).to_be_visible()
    page.locator("#spec").fill('{"name": "half')
    expect(verdict).to_contain_text("not JSON yet")
    assert len(service.http.get("/v1/runs?limit=200").json()["items"]) == before


def test_a_drawn_one_is_read_as_one(page: Page, zero_one: dict[str, Any]) -> None:
    page.goto(f"/#/predict?run={zero_one['id']}")
    pad = page.locator("#pad")
    box = pad.bounding_box()
    assert box is not None
    x = box["x"] + box["width"] / 2
    page.mouse.move(x + 8, box["y"] + 40)
    page.mouse.down()
    for i in range(1, 21):  # a slightly slanted vertical stroke, as people write a 1
        page.mouse.move(x + 8 - i * 0.6, box["y"] + 40 + i * 10)
    page.mouse.up()
    page.locator("#predict").click()
    expect(page.locator("#label")).to_have_text("1")
    expect(page.locator('.bar.top[data-label="1"]')).to_be_visible()
    seen = page.locator("#model-input")
    expect(seen).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    assert page.evaluate("document.querySelector('#model-input').naturalWidth") == 28


def _zero_png() -> bytes:
    img = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(img).ellipse((55, 30, 145, 170), outline=0, width=16)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_a_dropped_png_is_predicted_by_a_model_name(
    page: Page, service: LiveService, zero_one: dict[str, Any]
) -> None:
    resp = service.http.put("/v1/models/zero-or-one", json={"run_id": zero_one["id"]})
    assert resp.status_code in (200, 201), resp.text
    page.goto("/#/predict?model=zero-or-one")
    expect(page.locator("#target")).to_have_value("model:zero-or-one")
    data = base64.b64encode(_zero_png()).decode()
    transfer = page.evaluate_handle(
        """(b64) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], "zero.png", {type: "image/png"}));
            return dt;
        }""",
        data,
    )
    page.locator("#drop").dispatch_event("drop", {"dataTransfer": transfer})
    expect(page.locator("#label")).to_have_text("0")
    expect(page.locator("#model-input")).to_be_visible()


def test_run_detail_shows_evaluation_and_a_gallery_of_misclassified_images(
    page: Page, digits: dict[str, Any]
) -> None:
    page.goto(f"/#/runs/{digits['id']}")
    expect(page.locator("#confusion tr")).to_have_count(11)  # header + ten true labels
    expect(page.locator("#run-head")).not_to_contain_text("null")
    expect(page.locator("#per-class tr")).to_have_count(11)
    figures = page.locator("#gallery figure")
    expect(figures.first).to_be_visible()
    assert figures.count() >= 1
    page.wait_for_function(  # every image decoded, at the 28x28 of mnist-5k
        "[...document.querySelectorAll('#gallery img')]"
        ".every((i) => i.complete && i.naturalWidth === 28)"
    )
    first = figures.first
    assert first.get_attribute("data-label") != first.get_attribute("data-predicted")
    assert points(page) == 2
    # The Keras file, then every format the run object lists: a button, or why not.
    expect(page.locator('#downloads .download[data-format="keras"]')).to_have_count(1)
    for fmt, export in (digits.get("exports") or {}).items():
        row = page.locator(f'#downloads tr[data-format="{fmt}"]')
        expect(row).to_have_count(1)
        if export.get("status") == "available":
            expect(row.locator(".download")).to_have_count(1)
        else:
            expect(row).to_contain_text(export.get("reason") or "unavailable")
    expect(page.locator("#reproducibility")).to_contain_text(
        digits["reproducibility"]["spec_sha256"]
    )
    with page.expect_download() as download:
        page.locator('#downloads .download[data-format="keras"]').click()
    assert download.value.suggested_filename.endswith(".keras")


def test_two_ticked_runs_are_compared(
    page: Page, zero_one: dict[str, Any], digits: dict[str, Any]
) -> None:
    page.goto("/#/runs")
    for run in (zero_one, digits):
        page.locator(f'tr[data-run="{run["id"]}"] input[type=checkbox]').check()
    page.locator("#compare").click()
    expect(page.locator("#comparison")).to_be_visible()
    expect(
        page.locator('#comparison tr.difference[data-pointer="/dataset/classes"]')
    ).to_be_visible()
    expect(page.locator("#overlay canvas")).to_be_attached()
    assert page.locator("#overlay").get_attribute("data-series") == "2"
    page.locator("#metric").select_option("loss")
    expect(page.locator("#overlay canvas")).to_be_attached()


def test_swagger_ui_and_redoc_render_with_no_network(page: Page) -> None:
    # The page fixture aborts (and fails the test on) any request that leaves this machine.
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("trainserve")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    page.goto("/redoc")
    expect(page.locator("#redoc h1, redoc h1").first).to_contain_text("trainserve")


def test_no_page_logs_an_error(
    page: Page, zero_one: dict[str, Any], digits: dict[str, Any]
) -> None:
    ids = f"{zero_one['id']},{digits['id']}"
    for hash_, ready in [
        ("#/runs", f'tr[data-run="{zero_one["id"]}"]'),
        (f"#/runs/{zero_one['id']}", "#confusion"),
        (f"#/runs/{digits['id']}", "#gallery figure"),
        ("#/new", "#valid"),
        (f"#/predict?run={zero_one['id']}", "#pad"),
        (f"#/compare?ids={ids}", "#overlay canvas"),
        ("#/compare", "#compare-problem"),
        ("#/datasets", 'tr[data-dataset="digits"]'),
        ("#/sweeps", "#sweeps"),
    ]:
        page.goto(f"/{hash_}")
        expect(page.locator(ready).first).to_be_attached()
    # The page fixture fails the test on any console error or uncaught exception.


def test_the_event_reader_resumes_after_a_dropped_connection(
    page: Page, service: LiveService, digits: dict[str, Any]
) -> None:
    events = read_events(service.http, digits["id"])
    cut = next(i for i, (_, kind, _) in enumerate(events) if kind == "epoch") + 1
    first_part = "".join(
        f"id: {eid}\nevent: {kind}\ndata: {json.dumps(data)}\n\n"
        for eid, kind, data in events[:cut]
    )
    asked: list[str | None] = []

    def drop_the_first(route: Any) -> None:
        asked.append(route.request.headers.get("last-event-id"))
        if len(asked) == 1:  # the stream breaks after the first epoch, without "done"
            route.fulfill(status=200, content_type="text/event-stream", body=first_part)
        else:
            route.fallback()

    page.route("**/v1/runs/*/events", drop_the_first)
    page.goto("/#/runs")
    seen = page.evaluate(
        """async (id) => {
            const {followEvents} = await import("/static/js/api.js");
            const seen = [];
            const note = (type, data, eid) => seen.push([Number(eid), type]);
            await followEvents(`/v1/runs/${id}/events`, note, new AbortController().signal);
            return seen;
        }""",
        digits["id"],
    )
    assert asked == [None, str(events[cut - 1][0])]  # resumed from the last id it saw
    assert [tuple(s) for s in seen] == [(eid, kind) for eid, kind, _ in events]  # once each


def test_the_runs_list_filters_by_status_and_deletes(
    page: Page, service: LiveService, zero_one: dict[str, Any]
) -> None:
    spec = load_example("digits-softmax", epochs=50)
    spec["name"], spec["dataset"] = "to-delete", {"name": "digits"}
    run_id = service.submit(spec)["id"]
    assert service.http.post(f"/v1/runs/{run_id}/cancel").status_code == 202
    service.wait_for(run_id, {"cancelled"})
    page.goto("/#/runs")
    expect(page.locator(f'tr[data-run="{zero_one["id"]}"]')).to_be_visible()
    page.locator("#status-filter").select_option("cancelled")
    row = page.locator(f'tr[data-run="{run_id}"]')
    expect(row).to_be_visible()
    expect(page.locator(f'tr[data-run="{zero_one["id"]}"]')).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button.delete").click()
    expect(row).to_have_count(0)
    assert service.http.get(f"/v1/runs/{run_id}").status_code == 404
