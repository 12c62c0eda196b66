// Compare: the ticked runs' curves overlaid on one chart, metrics side by side, and every
// spec difference by JSON pointer (GET /v1/runs/compare).
import {call, describe} from "../api.js";
import {overlayChart} from "../charts.js";
import {el, fmt} from "../dom.js";

const METRICS = ["val_accuracy", "accuracy", "val_loss", "loss"];

export async function render(view, params, signal) {
  const ids = (params.ids || "").split(",").filter(Boolean);
  const problem = el("p", {id: "compare-problem", class: "problem"});
  view.append(el("h2", {}, "Compare runs"), problem);
  if (ids.length < 2) { problem.textContent = "Tick two to ten runs on the Runs page, then press Compare."; return; }
  let c;
  try { c = await call("GET", `/v1/runs/compare?${ids.map((id) => `ids=${encodeURIComponent(id)}`).join("&")}`, undefined, {signal}); }
  catch (p) { problem.textContent = describe(p); return; }

  const metric = el("select", {id: "metric", "aria-label": "metric"}, METRICS.map((m) => el("option", {value: m}, m)));
  const chartBox = el("div", {id: "overlay", class: "chart"});
  view.append(el("div", {class: "toolbar"}, el("label", {}, "Curve ", metric)), chartBox,
    el("h3", {}, "Results"), table(c),
    el("div", {id: "compare-warnings"}, c.warnings.map((w) => el("p", {class: "warning"}, `${w.pointer}: ${w.message}`))));

  const curves = await Promise.all(c.runs.map(async (r) => ({
    name: r.name, epochs: (await call("GET", `/v1/runs/${r.id}/metrics`, undefined, {signal})).epochs,
  })));
  let plot = null;
  const draw = () => { plot?.destroy(); plot = overlayChart(chartBox, curves, metric.value); };
  metric.onchange = draw;
  draw();
  signal.addEventListener("abort", () => plot?.destroy());
}

// Runs as columns; * marks the best test result; then one row per spec difference.
function table(c) {
  const t = el("table", {id: "comparison", class: "wide"});
  const row = (label, values, attrs = {}) => t.append(el("tr", attrs, el("th", {}, label), values.map((v) => el("td", {}, v == null ? "–" : typeof v === "object" ? JSON.stringify(v) : String(v)))));
  const metric = (key) => c.runs.map((r) => (r.test && r.test[key] != null ? fmt(r.test[key]) + (c.best[`test_${key}`] === r.id ? " *" : "") : null));
  t.append(el("tr", {}, el("th", {}), c.runs.map((r) => el("th", {}, el("a", {href: `#/runs/${r.id}`}, r.name)))));
  row("status", c.runs.map((r) => r.status));
  row("test accuracy", metric("accuracy"));
  row("test loss", metric("loss"));
  row("train seconds", c.runs.map((r) => r.train_seconds.toFixed(1)));
  for (const d of c.spec_differences) row(d.pointer, d.values, {class: "difference", "data-pointer": d.pointer});
  return t;
}
