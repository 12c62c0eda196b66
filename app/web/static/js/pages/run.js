// One run: live curves, spec and warnings, evaluation (heatmap, per-class accuracy,
// misclassified gallery), downloads of every model format it has, reproducibility.
import {call, describe, followEvents, send} from "../api.js";
import {curvesChart} from "../charts.js";
import {ACTIVE, el, fmt, problemList, statusBadge} from "../dom.js";

export async function render(view, params, signal) {
  const problem = el("p", {id: "run-problem", class: "problem"});
  let run;
  try { run = await call("GET", `/v1/runs/${encodeURIComponent(params.id)}`, undefined, {signal}); }
  catch (p) { view.append(el("h2", {}, "Run"), problem); problem.textContent = describe(p); return; }

  const head = el("div", {id: "run-head"});
  const chartBox = el("div", {id: "curves", class: "chart"});
  const results = el("div", {id: "results"});
  view.append(head, problem, el("h3", {}, "Curves"), chartBox, results);
  const chart = curvesChart(chartBox);
  signal.addEventListener("abort", () => chart.destroy());

  const epochs = new Map();
  const redraw = () => chart.update([...epochs.values()]);
  try {
    const metrics = await call("GET", `/v1/runs/${run.id}/metrics`, undefined, {signal});
    for (const e of metrics.epochs) epochs.set(e.epoch, e);
    redraw();
  } catch (p) { problem.textContent = describe(p); }

  const action = async (method, path, after) => {
    problem.textContent = "";
    try { await call(method, path); after(); } catch (p) { problem.textContent = describe(p); }
  };
  const reload = async () => {
    run = await call("GET", `/v1/runs/${run.id}`, undefined, {signal});
    showHead(head, run, action);
    showResults(results, run, signal);
  };
  showHead(head, run, action);
  showResults(results, run, signal);

  if (ACTIVE.includes(run.status)) {
    followEvents(`/v1/runs/${run.id}/events`, (type, data) => {
      if (type === "epoch") { epochs.set(data.epoch, data); redraw(); head.querySelector(".ep").textContent = `epoch ${data.epoch}/${data.epochs}`; }
      if (type === "status" || type === "done") reload().catch((p) => { problem.textContent = describe(p); });
    }, signal).catch((p) => { problem.textContent = describe(p); });
  }
}

function showHead(head, run, action) {
  const buttons = [];
  if (ACTIVE.includes(run.status) && run.status !== "cancelling") buttons.push(el("button", {type: "button", id: "cancel", onclick: () => action("POST", `/v1/runs/${run.id}/cancel`, () => {})}, "Cancel"));
  if (!ACTIVE.includes(run.status)) buttons.push(el("button", {type: "button", id: "delete", onclick: () => confirm(`Delete run ${run.name}?`) && action("DELETE", `/v1/runs/${run.id}`, () => { location.hash = "#/runs"; })}, "Delete"));
  if (run.status === "succeeded") buttons.push(el("a", {href: `#/predict?run=${run.id}`}, "Predict with it"));
  buttons.push(el("a", {href: `#/new?from=${run.id}`}, "New run from this spec"));
  head.replaceChildren(...[
    el("h2", {}, run.name, " ", statusBadge(run.status), " ", el("span", {class: "ep muted"}, `epoch ${run.progress.epoch}/${run.progress.epochs}`)),
    el("div", {class: "muted"}, run.id),
    run.failure_reason ? el("p", {class: "problem", id: "failure"}, run.failure_reason) : null,
    el("div", {class: "toolbar"}, buttons)].filter(Boolean));
}

function showResults(box, run, signal) {
  const ev = run.evaluation;
  box.replaceChildren(
    el("div", {class: "grid"},
      el("div", {},
        el("h3", {}, "Evaluation on the held-out test split"),
        ev ? evaluation(ev) : el("p", {class: "muted"}, "Not evaluated yet: the test split is scored when training ends."),
        el("h3", {}, "Misclassified test images"),
        el("div", {id: "gallery", class: "gallery"}, el("span", {class: "muted"}, ev ? "loading…" : "after training"))),
      el("div", {},
        el("h3", {}, "Downloads"), downloads(run),
        el("h3", {}, "Reproducibility"), facts(run.reproducibility),
        el("h3", {}, "Spec"),
        run.warnings.length ? el("div", {id: "warnings"}, problemList(run.warnings, "warning")) : el("p", {class: "muted"}, "no warnings"),
        el("pre", {id: "spec"}, JSON.stringify(run.spec, null, 2)))));
  if (ev && ev.confusion_matrix && !Array.isArray(ev.confusion_matrix[0]?.[0])) gallery(box.querySelector("#gallery"), run, signal);
  else box.querySelector("#gallery").replaceChildren(el("span", {class: "muted"}, ev ? "only for single-label classifiers" : "after training"));
}

function evaluation(ev) {
  const numbers = Object.entries(ev).filter(([, v]) => typeof v === "number");
  const parts = [el("dl", {class: "facts"}, numbers.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, fmt(v))]))];
  const m = ev.confusion_matrix;
  if (Array.isArray(m) && Array.isArray(m[0]) && typeof m[0][0] === "number") {
    parts.push(heatmap(m, ev.labels || m.map((_, i) => i)), perClass(m, ev.labels || m.map((_, i) => i)));
  } else if (Array.isArray(m)) {
    m.forEach((sub, j) => parts.push(el("h4", {}, ev.labels?.[j] ?? `label ${j}`), heatmap(sub, ["no", "yes"])));
  }
  return el("div", {id: "evaluation"}, parts);
}

// Rows are true labels, columns predicted ones; each cell is shaded by its share of the row.
function heatmap(m, labels) {
  const table = el("table", {class: "heatmap", id: "confusion"});
  table.append(el("tr", {}, el("th", {}, "true \\ predicted"), labels.map((l) => el("th", {}, l))));
  m.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    table.append(el("tr", {}, el("th", {}, labels[i]), row.map((n, j) => {
      const share = n / total;
      const hue = i === j ? "29, 122, 51" : "176, 0, 32";
      return el("td", {style: `background: rgba(${hue}, ${(0.08 + 0.85 * share).toFixed(2)}); color: ${share > 0.55 ? "#fff" : "#222"}`, title: `true ${labels[i]}, predicted ${labels[j]}: ${n}`}, n);
    })));
  });
  return table;
}

function perClass(m, labels) {
  return el("table", {id: "per-class"},
    el("tr", {}, el("th", {}, "class"), el("th", {}, "accuracy"), el("th", {}, "examples"), el("th", {})),
    m.map((row, i) => {
      const total = row.reduce((a, b) => a + b, 0);
      const acc = total ? row[i] / total : 0;
      return el("tr", {}, el("td", {}, labels[i]), el("td", {}, fmt(acc, 3)), el("td", {}, total),
        el("td", {}, el("div", {class: "bar"}, el("div", {class: "fill", style: `width: ${Math.round(acc * 160)}px`}))));
    }));
}

async function gallery(box, run, signal) {
  try {
    const errs = await call("GET", `/v1/runs/${run.id}/errors?limit=48`, undefined, {signal});
    if (!errs.items.length) { box.replaceChildren(el("span", {class: "muted"}, "none: every test image was classified correctly")); return; }
    box.replaceChildren(
      el("div", {class: "muted", style: "width: 100%"}, `${errs.total} wrong in all; most confidently wrong first`),
      ...errs.items.map((e) => el("figure", {"data-label": e.label, "data-predicted": e.predicted},
        el("img", {src: e.image, alt: `true ${e.label}, predicted ${e.predicted}`}),
        el("figcaption", {}, `${e.label} → ${e.predicted}`, el("br"), el("span", {class: "muted"}, `${Math.round(e.confidence * 100)}%`)))));
  } catch (p) { if (!signal.aborted) box.replaceChildren(el("span", {class: "muted"}, describe(p))); }
}

// The Keras file of run.artifact, then every format run.exports lists (ONNX, LiteRT, ...,
// when the service exports them) with its checks, or why it is unavailable. Fetched with
// the key, then saved from a blob.
function downloads(run) {
  if (run.status !== "succeeded") return el("p", {class: "muted"}, "A model file exists once the run has succeeded.");
  const formats = [["keras", run.artifact || {}], ...Object.entries(run.exports || {}).filter(([f]) => f !== "keras")];
  return el("table", {id: "downloads"}, formats.map(([format, info]) => {
    const usable = Boolean(info && info.sha256);
    const why = info && (info.reason || info.error || info.detail || info.unavailable);
    const detail = usable
      ? [info.bytes != null ? `${(info.bytes / 1024).toFixed(1)} KiB` : "", info.max_abs_diff != null ? ` · max |Δ| ${fmt(info.max_abs_diff, 6)}` : "", info.label_agreement != null ? ` · labels agree ${fmt(info.label_agreement, 4)}` : ""].join("")
      : (typeof why === "string" ? why : "unavailable");
    const link = usable ? el("button", {type: "button", class: "download", "data-format": format, onclick: () => download(run, format)}, `download ${format}`) : el("span", {class: "muted"}, format);
    return el("tr", {"data-format": format}, el("td", {}, link), el("td", {class: usable ? "muted" : "warning"}, detail),
      el("td", {class: "muted", title: info?.sha256 || ""}, info?.sha256 ? info.sha256.slice(0, 12) + "…" : ""));
  }));
}

async function download(run, format) {
  const path = `/v1/runs/${run.id}/model` + (format === "keras" ? "" : `?format=${encodeURIComponent(format)}`);
  const resp = await send("GET", path);
  if (!resp.ok) { alert(`Download failed: HTTP ${resp.status}`); return; }
  const name = /filename="?([^";]+)"?/.exec(resp.headers.get("content-disposition") || "")?.[1] || `${run.name}.${format}`;
  const url = URL.createObjectURL(await resp.blob());
  const a = el("a", {href: url, download: name});
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function facts(obj) {
  return el("dl", {class: "facts", id: "reproducibility"}, Object.entries(obj || {}).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v == null ? "–" : String(v))]));
}
